//! OTLP/gRPC: the `MetricsService/Export` method on its own listener, gzip accepted
//! (the Collector's `otlp` exporter compresses with gzip by default).

use std::future::Future;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use super::events::Transport;
use super::ingest::Ingest;

/// The service tonic calls once it has decoded a request.
struct Grpc {
    ingest: Arc<Ingest>,
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        match self
            .ingest
            .export(Transport::Grpc, request.into_inner())
            .await
        {
            Ok(response) => Ok(Response::new(response)),
            // UNAVAILABLE is the code the spec lists as retryable.
            Err(e) => Err(Status::unavailable(format!("samples not published: {e}"))),
        }
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown`, then finishes in-flight calls.
/// Requests over `max_body` bytes (decompressed) get `OUT_OF_RANGE` from tonic and
/// undecodable ones `INTERNAL`, before they reach us.
pub async fn serve(
    listener: TcpListener,
    ingest: Arc<Ingest>,
    max_body: usize,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let service = MetricsServiceServer::new(Grpc { ingest })
        .max_decoding_message_size(max_body)
        .accept_compressed(CompressionEncoding::Gzip);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
