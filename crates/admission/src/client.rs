//! A minimal HTTPS/1.1 keep-alive client for tests and the load generator.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

/// A client request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA file could not be read.
    #[error("cannot load CA {path}: {reason}")]
    Ca {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Connecting, TLS or HTTP failed.
    #[error("{0}")]
    Io(String),
}

fn io(e: impl std::fmt::Display) -> ClientError {
    ClientError::Io(e.to_string())
}

/// One keep-alive HTTPS connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

/// TLS settings trusting one CA.
#[derive(Clone)]
pub struct Connector {
    tls: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

impl Connector {
    /// Trusts the CA certificates in `ca_pem` and expects `server_name` in the certificate.
    pub fn new(ca_pem: &Path, server_name: &str) -> Result<Connector, ClientError> {
        let ca_err = |reason: String| ClientError::Ca {
            path: ca_pem.display().to_string(),
            reason,
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(ca_pem).map_err(|e| ca_err(e.to_string()))? {
            roots
                .add(c.map_err(|e| ca_err(e.to_string()))?)
                .map_err(|e| ca_err(e.to_string()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_name = ServerName::try_from(server_name.to_string()).map_err(io)?;
        Ok(Connector {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// Opens a connection to `addr`.
    pub async fn connect(&self, addr: SocketAddr) -> Result<Connection, ClientError> {
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
        tcp.set_nodelay(true).map_err(io)?;
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(io)?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(io)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection {
            sender,
            host: self.server_name.to_str().into_owned(),
        })
    }
}

impl Connection {
    /// Sends a request and returns the status and body.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Bytes,
    ) -> Result<(u16, Bytes), ClientError> {
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .map_err(io)?;
        self.sender.ready().await.map_err(io)?;
        let resp = self.sender.send_request(req).await.map_err(io)?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.map_err(io)?.to_bytes();
        Ok((status, body))
    }
}
