//! The connection loop: hyper HTTP/1 with a deadline on request headers
//! (slow clients are dropped, others keep being served), each connection
//! in its own task, graceful stop.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::api::AppState;
use crate::error::{Error, Result};

/// Serve `state` on `listener` until `stop` resolves; connections open then
/// get a moment to finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    stop: impl Future<Output = ()>,
) -> Result<()> {
    let header_timeout = state.config.header_timeout;
    let app = crate::router(state);
    let mut stop = std::pin::pin!(stop);
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (sock, peer) = tokio::select! {
            _ = &mut stop => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: wait, keep serving.
                    eprintln!("panicdump serve: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        while conns.try_join_next().is_some() {}
        let _ = sock.set_nodelay(true);
        let app = app.clone();
        conns.spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(sock), svc);
            // Errors here are the client's (reset, timeout): nothing to do.
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// A server running on its own thread and runtime (tests, examples, and
/// anything that is not async itself). Dropping it stops the server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl Running {
    /// Stop and wait for the server.
    pub fn stop(mut self) -> Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| Error::Config("the server thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// Start a server for `config` on a thread of its own; returns once it
/// listens (so `config.listen` may use port 0).
pub fn run(config: crate::Config) -> Result<Running> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("panicdump-serve".into())
        .spawn(move || -> Result<()> {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build()
                .map_err(Error::Export)?;
            rt.block_on(async move {
                let started = async {
                    let listener =
                        TcpListener::bind(config.listen)
                            .await
                            .map_err(|source| Error::Io {
                                op: "listening on",
                                path: config.listen.to_string().into(),
                                source,
                            })?;
                    let addr = listener.local_addr().map_err(Error::Export)?;
                    let state = crate::open(config).await?;
                    Ok::<_, Error>((listener, addr, state))
                }
                .await;
                match started {
                    Err(e) => {
                        let msg = e.to_string();
                        let _ = ready_tx.send(Err(e));
                        Err(Error::Config(msg))
                    }
                    Ok((listener, addr, state)) => {
                        let store = state.store.clone();
                        let _ = ready_tx.send(Ok(addr));
                        let r = serve(listener, state, async {
                            let _ = stop_rx.await;
                        })
                        .await;
                        store.close().await;
                        r
                    }
                }
            })
        })
        .map_err(Error::Export)?;
    match ready_rx.recv() {
        Ok(Ok(addr)) => Ok(Running {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(Error::Config(
            "the server thread ended before listening".into(),
        )),
    }
}

/// Run a future to completion on a runtime of its own (for the CLI, which
/// is not async).
pub fn block_on<F: Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Export)?;
    Ok(rt.block_on(f))
}

/// Serve `config` until SIGINT or SIGTERM; `on_listen` is told the address
/// once the server listens and its database is ready.
pub fn serve_until_signal(config: crate::Config, on_listen: impl FnOnce(SocketAddr)) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Export)?;
    rt.block_on(async move {
        let listen = config.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Io {
                op: "listening on",
                path: listen.to_string().into(),
                source,
            })?;
        let state = crate::open(config).await?;
        let store = state.store.clone();
        on_listen(listener.local_addr().map_err(Error::Export)?);
        let r = serve(listener, state, shutdown_signal()).await;
        store.close().await;
        r
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
