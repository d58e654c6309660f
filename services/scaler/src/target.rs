//! The `/scale` subresource of any kind that has one (Deployment, StatefulSet, a custom
//! resource), found through discovery so the plural is the API server's own. Errors
//! say which object and verb, and tell a 403 (RBAC) and a 409 (conflict) apart.

use futures::future::BoxFuture;
use k8s_openapi::api::autoscaling::v1::Scale;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;

/// What to scale: `scaleTargetRef` plus namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetRef {
    /// Namespace of the object.
    pub namespace: String,
    /// `apps/v1`, or `group/version` of a custom resource.
    pub api_version: String,
    /// `Deployment`, `StatefulSet`, …
    pub kind: String,
    /// The object's name.
    pub name: String,
}

impl std::fmt::Display for TargetRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// A `/scale` call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// RBAC said no: the service account lacks the verb.
    #[error(
        "{target}: {verb} scale forbidden: {message} (grant `{verb}` on the `/scale` subresource)"
    )]
    Forbidden {
        /// The object.
        target: String,
        /// `get` or `patch`.
        verb: &'static str,
        /// The API server's message.
        message: String,
    },
    /// Someone else changed the object between our read and write.
    #[error("{target}: {verb} scale conflict: {message}")]
    Conflict {
        /// The object.
        target: String,
        /// `get` or `patch`.
        verb: &'static str,
        /// The API server's message.
        message: String,
    },
    /// The object, or its kind, does not exist.
    #[error("{target}: not found: {message}")]
    NotFound {
        /// The object.
        target: String,
        /// The API server's message.
        message: String,
    },
    /// Anything else: transport, TLS, other statuses.
    #[error("{target}: {verb} scale: {source}")]
    Other {
        /// The object.
        target: String,
        /// `discover`, `get` or `patch`.
        verb: &'static str,
        /// What kube said.
        source: kube::Error,
    },
    /// The kubeconfig could not be used.
    #[error(transparent)]
    Config(#[from] shared::kube::KubeConfigError),
    /// A target that is not a Kubernetes object (the simulated fleet) failed.
    #[error("{target}: {message}")]
    Local {
        /// The target.
        target: String,
        /// Why.
        message: String,
    },
}

/// Reads and patches `/scale` of one target.
pub struct ScaleClient {
    api: Api<DynamicObject>,
    target: TargetRef,
}

impl ScaleClient {
    /// Resolves the target's kind through discovery.
    pub async fn new(client: Client, target: TargetRef) -> Result<Self, ScaleError> {
        let (group, version) = match target.api_version.split_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), target.api_version.clone()),
        };
        let gvk = GroupVersionKind::gvk(&group, &version, &target.kind);
        let (resource, _) = kube::discovery::pinned_kind(&client, &gvk)
            .await
            .map_err(|e| classify(&target, "discover", e))?;
        let api = Api::namespaced_with(client, &target.namespace, &resource);
        Ok(Self { api, target })
    }

    /// The target's `/scale`: desired replicas in `spec`, observed in `status`.
    pub async fn get(&self) -> Result<Scale, ScaleError> {
        self.api
            .get_scale(&self.target.name)
            .await
            .map_err(|e| classify(&self.target, "get", e))
    }

    /// Sets `spec.replicas` with a merge patch of `/scale`.
    pub async fn patch_replicas(&self, replicas: u32) -> Result<Scale, ScaleError> {
        self.patch_replicas_at(replicas, None).await
    }

    /// Sets `spec.replicas`, only if the object is still at `resource_version` (a
    /// stale write gets a 409 [`ScaleError::Conflict`]).
    pub async fn patch_replicas_at(
        &self,
        replicas: u32,
        resource_version: Option<&str>,
    ) -> Result<Scale, ScaleError> {
        let patch = match resource_version {
            Some(rv) => serde_json::json!({
                "metadata": { "resourceVersion": rv },
                "spec": { "replicas": replicas },
            }),
            None => serde_json::json!({ "spec": { "replicas": replicas } }),
        };
        self.api
            .patch_scale(
                &self.target.name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .map_err(|e| classify(&self.target, "patch", e))
    }
}

fn classify(target: &TargetRef, verb: &'static str, e: kube::Error) -> ScaleError {
    let target = target.to_string();
    match e {
        kube::Error::Api(status) if status.code == 403 => ScaleError::Forbidden {
            target,
            verb,
            message: status.message.clone(),
        },
        kube::Error::Api(status) if status.code == 409 => ScaleError::Conflict {
            target,
            verb,
            message: status.message.clone(),
        },
        kube::Error::Api(status) if status.code == 404 => ScaleError::NotFound {
            target,
            message: status.message.clone(),
        },
        source => ScaleError::Other {
            target,
            verb,
            source,
        },
    }
}

/// A target's replicas as `/scale` reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replicas {
    /// `spec.replicas`: what was asked for.
    pub spec: i32,
    /// `status.replicas`: what exists.
    pub status: i32,
    /// The version read, so the write can be conditional on it.
    pub resource_version: Option<String>,
}

/// Something the scaler can read and set the replicas of: a `/scale` subresource, or
/// (for `poolpilot up`) a simulated fleet.
pub trait ScaleTarget: Send + Sync {
    /// What it is, for logs and decisions.
    fn describe(&self) -> String;
    /// The current replicas.
    fn replicas(&self) -> BoxFuture<'_, Result<Replicas, ScaleError>>;
    /// Sets the desired replicas, if the target is still as `read` saw it.
    fn set_replicas<'a>(
        &'a self,
        replicas: u32,
        read: &'a Replicas,
    ) -> BoxFuture<'a, Result<(), ScaleError>>;
}

impl ScaleTarget for ScaleClient {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    fn replicas(&self) -> BoxFuture<'_, Result<Replicas, ScaleError>> {
        Box::pin(async move {
            let scale = self.get().await?;
            Ok(Replicas {
                spec: scale.spec.and_then(|s| s.replicas).unwrap_or(0),
                status: scale.status.map(|s| s.replicas).unwrap_or(0),
                resource_version: scale.metadata.resource_version,
            })
        })
    }

    fn set_replicas<'a>(
        &'a self,
        replicas: u32,
        read: &'a Replicas,
    ) -> BoxFuture<'a, Result<(), ScaleError>> {
        Box::pin(async move {
            self.patch_replicas_at(replicas, read.resource_version.as_deref())
                .await
                .map(drop)
        })
    }
}
