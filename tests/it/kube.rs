//! `/scale` through `kube` against a real kube-apiserver.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use poolpilot_tests::{infra, unique};
use scaler::{ScaleClient, ScaleError, TargetRef, kube_client};

async fn namespace_with_deployment() -> (kube::Client, TargetRef) {
    let client = kube_client(Some(&infra().kubeconfig)).await.unwrap();
    let target = poolpilot_tests::namespace_with_deployment(&client).await;
    (client, target)
}

#[tokio::test]
async fn read_and_patch_the_scale_subresource() {
    let (client, target) = namespace_with_deployment().await;
    let scale = ScaleClient::new(client.clone(), target.clone())
        .await
        .unwrap();
    assert_eq!(scale.get().await.unwrap().spec.unwrap().replicas, Some(1));
    let patched = scale.patch_replicas(3).await.unwrap();
    assert_eq!(patched.spec.unwrap().replicas, Some(3));
    let deployment = Api::<Deployment>::namespaced(client, &target.namespace)
        .get(&target.name)
        .await
        .unwrap();
    assert_eq!(
        deployment.spec.unwrap().replicas,
        Some(3),
        "the Deployment itself changed"
    );
}

#[tokio::test]
async fn a_user_without_the_verb_gets_a_clear_403() {
    let (_, target) = namespace_with_deployment().await;
    let viewer = kube_client(Some(&infra().viewer_kubeconfig)).await.unwrap();
    let scale = ScaleClient::new(viewer, target.clone()).await.unwrap();
    let err = scale.patch_replicas(5).await.unwrap_err();
    assert!(
        matches!(err, ScaleError::Forbidden { verb: "patch", .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "Deployment {}/llama3: patch scale forbidden:",
            target.namespace
        )),
        "{text}"
    );
    assert!(text.contains("grant `patch`"), "{text}");
}

#[tokio::test]
async fn a_missing_target_is_not_found() {
    let (client, mut target) = namespace_with_deployment().await;
    target.name = "nope".into();
    let err = ScaleClient::new(client, target)
        .await
        .unwrap()
        .get()
        .await
        .unwrap_err();
    assert!(matches!(err, ScaleError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn a_bad_kubeconfig_names_the_file() {
    let path = std::env::temp_dir().join(unique("kubeconfig"));
    std::fs::write(&path, "not: [a kubeconfig").unwrap();
    let Err(err) = kube_client(Some(&path)).await else {
        panic!("a broken kubeconfig was accepted");
    };
    assert!(
        err.to_string()
            .starts_with(&format!("kubeconfig {}:", path.display())),
        "{err}"
    );
}
