//! A fake CRI runtime on a unix socket, for tests and benches: tonic's server with the
//! `runtime.v1.RuntimeService` routing written by hand (no generated code), answering
//! `ListContainers` and `PodSandboxStatus` from a store, or misbehaving on request.
//!
//! Include it with
//!
//! ```ignore
//! #[path = "common/fake_cri.rs"]
//! mod fake_cri;
//! ```
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use mamori_sensor::container::cri::proto;
use tonic::body::Body;
use tonic::server::Grpc;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

/// How the fake behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answers from the store (unknown ids: an empty list, or `NotFound` for sandboxes).
    Answer,
    /// Answers every container id with a container in sandbox `sb-<id>`, and every sandbox
    /// with a pod labelled `app=echo`.
    Echo,
    /// Accepts the call and never answers.
    Hang,
    /// Answers with bytes that are no message of the expected type.
    Garbage,
    /// Serves no CRI method (like a containerd without its CRI plugin).
    Unimplemented,
}

/// The fake's store and counters.
pub struct Fake {
    /// Containers `ListContainers` knows.
    pub containers: Mutex<Vec<proto::Container>>,
    /// Sandboxes `PodSandboxStatus` knows.
    pub pods: Mutex<Vec<proto::PodSandboxStatus>>,
    /// The behaviour.
    pub mode: Mutex<Mode>,
    /// `ListContainers` calls received.
    pub list_calls: AtomicUsize,
    /// `PodSandboxStatus` calls received.
    pub pod_calls: AtomicUsize,
}

impl Fake {
    /// An empty fake in `mode`.
    pub fn new(mode: Mode) -> Arc<Fake> {
        Arc::new(Fake {
            containers: Mutex::new(Vec::new()),
            pods: Mutex::new(Vec::new()),
            mode: Mutex::new(mode),
            list_calls: AtomicUsize::new(0),
            pod_calls: AtomicUsize::new(0),
        })
    }

    /// Calls received so far: (ListContainers, PodSandboxStatus).
    pub fn calls(&self) -> (usize, usize) {
        (
            self.list_calls.load(Ordering::SeqCst),
            self.pod_calls.load(Ordering::SeqCst),
        )
    }

    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap()
    }

    fn list(&self, req: proto::ListContainersRequest) -> proto::ListContainersResponse {
        let id = req.filter.map(|f| f.id).unwrap_or_default();
        if self.mode() == Mode::Echo {
            return proto::ListContainersResponse {
                containers: vec![proto::Container {
                    id: id.clone(),
                    pod_sandbox_id: format!("sb-{id}"),
                    metadata: Some(proto::ContainerMetadata {
                        name: "echo".into(),
                        attempt: 0,
                    }),
                    ..Default::default()
                }],
            };
        }
        let containers = self
            .containers
            .lock()
            .unwrap()
            .iter()
            .filter(|c| id.is_empty() || c.id == id)
            .cloned()
            .collect();
        proto::ListContainersResponse { containers }
    }

    fn pod(
        &self,
        req: proto::PodSandboxStatusRequest,
    ) -> Result<proto::PodSandboxStatusResponse, Status> {
        let id = req.pod_sandbox_id;
        if self.mode() == Mode::Echo {
            return Ok(proto::PodSandboxStatusResponse {
                status: Some(proto::PodSandboxStatus {
                    id: id.clone(),
                    metadata: Some(proto::PodSandboxMetadata {
                        name: format!("pod-{id}"),
                        uid: "uid".into(),
                        namespace: "bench".into(),
                        attempt: 0,
                    }),
                    labels: [("app".to_string(), "echo".to_string())].into(),
                    ..Default::default()
                }),
            });
        }
        let pods = self.pods.lock().unwrap();
        match pods.iter().find(|p| p.id == id) {
            Some(p) => Ok(proto::PodSandboxStatusResponse {
                status: Some(p.clone()),
            }),
            None => Err(Status::not_found(format!("sandbox {id} not found"))),
        }
    }
}

/// A message whose field 1 is a varint, where every expected answer has a length-delimited
/// field 1: decoding it as one fails.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Junk {
    /// Anything.
    #[prost(uint64, tag = "1")]
    pub n: u64,
}

/// Serves `fake` on a new unix socket at `path` from a background thread (for the rest of the
/// process). The socket exists when this returns.
pub fn serve(path: &Path, fake: Arc<Fake>) {
    let listener = UnixListener::bind(path).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::UnixListener::from_std(listener).unwrap();
            let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
            let _ = tonic::transport::Server::builder()
                .serve_with_incoming(Router(fake), incoming)
                .await;
        });
    });
}

/// A socket that accepts connections and never reads or writes (a runtime hung before the
/// HTTP/2 handshake).
pub fn serve_silent(path: &Path) {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let mut held: Vec<UnixStream> = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
}

/// A socket that answers every connection with bytes that are not HTTP/2, then closes it.
pub fn serve_noise(path: &Path) {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n\x00\xff\x00\xff garbage");
        }
    });
}

#[derive(Clone)]
struct Router(Arc<Fake>);

impl tonic::server::NamedService for Router {
    const NAME: &'static str = "runtime.v1.RuntimeService";
}

type BoxFut = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

impl tower::Service<http::Request<Body>> for Router {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFut;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> BoxFut {
        let fake = self.0.clone();
        Box::pin(async move {
            let mode = fake.mode();
            if mode == Mode::Unimplemented {
                return Ok(
                    Status::unimplemented("unknown service runtime.v1.RuntimeService").into_http(),
                );
            }
            let path = req.uri().path().to_string();
            match path.as_str() {
                proto::LIST_CONTAINERS => {
                    fake.list_calls.fetch_add(1, Ordering::SeqCst);
                    if mode == Mode::Garbage {
                        return Ok(junk::<proto::ListContainersRequest>(req).await);
                    }
                    let mut grpc = Grpc::new(ProstCodec::<
                        proto::ListContainersResponse,
                        proto::ListContainersRequest,
                    >::default());
                    let svc = tower::service_fn(move |r: Request<proto::ListContainersRequest>| {
                        let fake = fake.clone();
                        async move {
                            if fake.mode() == Mode::Hang {
                                std::future::pending::<()>().await;
                            }
                            Ok::<_, Status>(Response::new(fake.list(r.into_inner())))
                        }
                    });
                    Ok(grpc.unary(svc, req).await)
                }
                proto::POD_SANDBOX_STATUS => {
                    fake.pod_calls.fetch_add(1, Ordering::SeqCst);
                    if mode == Mode::Garbage {
                        return Ok(junk::<proto::PodSandboxStatusRequest>(req).await);
                    }
                    let mut grpc = Grpc::new(ProstCodec::<
                        proto::PodSandboxStatusResponse,
                        proto::PodSandboxStatusRequest,
                    >::default());
                    let svc =
                        tower::service_fn(move |r: Request<proto::PodSandboxStatusRequest>| {
                            let fake = fake.clone();
                            async move {
                                if fake.mode() == Mode::Hang {
                                    std::future::pending::<()>().await;
                                }
                                fake.pod(r.into_inner()).map(Response::new)
                            }
                        });
                    Ok(grpc.unary(svc, req).await)
                }
                _ => Ok(Status::unimplemented(format!("unknown method {path}")).into_http()),
            }
        })
    }
}

async fn junk<Q>(req: http::Request<Body>) -> http::Response<Body>
where
    Q: prost::Message + Default + Send + 'static,
{
    let mut grpc = Grpc::new(ProstCodec::<Junk, Q>::default());
    let svc =
        tower::service_fn(|_: Request<Q>| async { Ok::<_, Status>(Response::new(Junk { n: 7 })) });
    grpc.unary(svc, req).await
}
