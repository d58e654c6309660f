//! A Kubernetes client from a kubeconfig file, or from the in-cluster / `$KUBECONFIG`
//! default: the one set-up the scraper's discovery and the scaler share.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// The kubeconfig could not be used.
#[derive(Debug, thiserror::Error)]
#[error("kubeconfig {path}: {message}")]
pub struct KubeConfigError {
    /// The file, or `in-cluster`.
    pub path: String,
    /// Why.
    pub message: String,
}

/// A client from `kubeconfig`, or the in-cluster / `$KUBECONFIG` default.
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, KubeConfigError> {
    let path = kubeconfig.map_or_else(|| "in-cluster".to_owned(), |p| p.display().to_string());
    let err = |message: String| KubeConfigError {
        path: path.clone(),
        message,
    };
    let config = match kubeconfig {
        Some(p) => {
            let kc = Kubeconfig::read_from(p).map_err(|e| err(e.to_string()))?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| err(e.to_string()))?
        }
        None => Config::infer().await.map_err(|e| err(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| err(e.to_string()))
}
