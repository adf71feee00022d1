//! The HTTP listener (HTTPS with the gateway's certificate when configured), serving
//! until SIGTERM or Ctrl-C and then finishing the requests under way.
//!
//! TLS handshakes run in their own tasks with a time limit, so a client that opens a
//! connection and says nothing holds up no one else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;

use crate::config::ListenerTls;
use crate::{Gateway, StartError};

/// The caller's address, as the rate limits key anonymous callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddress(pub SocketAddr);

/// Accepted connections, plain or after their TLS handshake.
pub struct GatewayListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(Either<TcpStream, TlsStream<TcpStream>>, SocketAddr)>,
}

impl axum::serve::Listener for GatewayListener {
    type Io = Either<TcpStream, TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The acceptor ended (shutdown): wait for the server to stop.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl Connected<IncomingStream<'_, GatewayListener>> for PeerAddress {
    fn connect_info(stream: IncomingStream<'_, GatewayListener>) -> Self {
        PeerAddress(*stream.remote_addr())
    }
}

fn tls_acceptor(tls: &ListenerTls) -> Result<TlsAcceptor, StartError> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certificates = CertificateDer::pem_file_iter(&tls.cert_file)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| {
            StartError::Listener(format!(
                "GATEWAY_TLS_CERT_FILE {}: {error}",
                tls.cert_file.display()
            ))
        })?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file).map_err(|error| {
        StartError::Listener(format!(
            "GATEWAY_TLS_KEY_FILE {}: {error}",
            tls.key_file.display()
        ))
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| StartError::Listener(error.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certificates, key)
    .map_err(|error| StartError::Listener(format!("the gateway's certificate: {error}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections until `stop`, handing them (after TLS) to the server.
async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    ready: mpsc::Sender<(Either<TcpStream, TlsStream<TcpStream>>, SocketAddr)>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match &acceptor {
            None => {
                if ready.send((Either::Left(stream), peer)).await.is_err() {
                    return;
                }
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let ready = ready.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => {
                            let _ = ready.send((Either::Right(tls), peer)).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%error, %peer, "tls handshake failed"),
                        Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
                    }
                });
            }
        }
    }
}

/// A running gateway.
pub struct Application {
    address: SocketAddr,
    https: bool,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    pool: sqlx::PgPool,
}

pub(crate) async fn start(
    gateway: Arc<Gateway>,
    pool: sqlx::PgPool,
) -> Result<Application, StartError> {
    let acceptor = gateway.config.tls.as_ref().map(tls_acceptor).transpose()?;
    let https = acceptor.is_some();
    let listener = TcpListener::bind(gateway.config.listen_addr)
        .await
        .map_err(|error| {
            StartError::Listener(format!(
                "cannot listen on GATEWAY_LISTEN_ADDR {}: {error}",
                gateway.config.listen_addr
            ))
        })?;
    let address = listener
        .local_addr()
        .map_err(|error| StartError::Listener(error.to_string()))?;
    let stop = CancellationToken::new();
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(accept_loop(listener, acceptor, sender, stop.clone()));
    let router = crate::router(gateway);
    let shutdown = stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            GatewayListener {
                local: address,
                ready: receiver,
            },
            router.into_make_service_with_connect_info::<PeerAddress>(),
        )
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    });
    tracing::info!(%address, https, "gateway serving");
    Ok(Application {
        address,
        https,
        stop,
        server,
        pool,
    })
}

impl Application {
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:<port>` (or https).
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.address.port())
    }

    /// The registry's pool (tests register clients through it).
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// Serves until SIGTERM or Ctrl-C, then lets requests under way finish.
    pub async fn run_until_stopped(self) -> Result<(), String> {
        let stop = self.stop.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("stopping");
            stop.cancel();
        });
        self.finish().await
    }

    /// Stops serving (tests).
    pub async fn shutdown(self) -> Result<(), String> {
        self.stop.cancel();
        self.finish().await
    }

    /// Serves until the stop signal, then gives requests under way 25 s to finish.
    async fn finish(self) -> Result<(), String> {
        let mut server = self.server;
        let finished = tokio::select! {
            finished = &mut server => Some(finished),
            () = self.stop.cancelled() => None,
        };
        let finished = match finished {
            Some(finished) => Ok(finished),
            None => tokio::time::timeout(Duration::from_secs(25), server).await,
        };
        let result = match finished {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(error))) => Err(error.to_string()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("requests under way did not finish within 25 s".to_owned()),
        };
        self.pool.close().await;
        result
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = terminate.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
