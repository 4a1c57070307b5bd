//! The worker thread: a single-threaded tokio runtime serving calls from a channel, each under
//! its deadline, concurrently (a hung call does not hold up the next).

use std::path::PathBuf;
use std::time::Duration;

use http::uri::PathAndQuery;
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use super::{proto, Answer, Call, CriError, Job, MAX_MESSAGE_BYTES};

pub(super) fn run(
    socket: PathBuf,
    timeout: Duration,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Job>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            // Dropping `rx` makes every caller see the worker gone.
            tracing::warn!(error = %e, "Cannot start the CRI worker's runtime.");
            return;
        }
    };
    rt.block_on(async move {
        // The authority is a placeholder: the connector ignores it and dials the socket.
        // The per-call deadline is the `tokio::time::timeout` below, so that passing it is
        // always reported as `CriError::Timeout`.
        let channel = Endpoint::from_static("http://localhost")
            .connect_timeout(timeout)
            .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let socket = socket.clone();
                async move {
                    let s = tokio::net::UnixStream::connect(socket).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(s))
                }
            }));
        while let Some(job) = rx.recv().await {
            let channel = channel.clone();
            tokio::spawn(async move {
                let method = job.call.method();
                let r = match tokio::time::timeout(timeout, call(channel, job.call)).await {
                    Ok(Ok(a)) => Ok(a),
                    Ok(Err(status)) => Err(CriError::Call {
                        method,
                        code: status.code(),
                        message: status.message().to_string(),
                    }),
                    Err(_) => Err(CriError::Timeout { method, timeout }),
                };
                let _ = job.reply.send(r);
            });
        }
    });
}

async fn call(channel: Channel, call: Call) -> Result<Answer, tonic::Status> {
    match call {
        Call::ListContainers(id) => {
            let req = proto::ListContainersRequest {
                filter: Some(proto::ContainerFilter {
                    id,
                    ..Default::default()
                }),
            };
            unary(channel, proto::LIST_CONTAINERS, req)
                .await
                .map(Answer::Containers)
        }
        Call::PodSandboxStatus(id) => {
            let req = proto::PodSandboxStatusRequest {
                pod_sandbox_id: id,
                verbose: false,
            };
            unary(channel, proto::POD_SANDBOX_STATUS, req)
                .await
                .map(Answer::Pod)
        }
    }
}

async fn unary<Q, R>(channel: Channel, path: &'static str, req: Q) -> Result<R, tonic::Status>
where
    Q: prost::Message + Send + 'static,
    R: prost::Message + Default + Send + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("cannot reach the runtime: {e}")))?;
    let codec = tonic_prost::ProstCodec::<Q, R>::default();
    let resp = grpc
        .unary(
            tonic::Request::new(req),
            PathAndQuery::from_static(path),
            codec,
        )
        .await?;
    Ok(resp.into_inner())
}
