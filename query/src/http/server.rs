//! The API's accept loop and connections, with the limits `axum::serve` does not set: at most
//! `max_connections` open at once, a request head read within `header_read_timeout` (from the
//! connection's opening, or from the first byte of a later request), a kept-alive connection
//! closed after `idle_timeout` without a request, and heads of at most `MAX_HEAD_BYTES`.
//!
//! When every connection is taken, the one that has waited longest for a request is closed to
//! make room: idle sockets cannot keep a new client (a health check, say) out. Only when every
//! connection has a request in flight does a new one wait, in the kernel's backlog.
//!
//! Over TLS, the handshake is part of the wait for the first request head (same timeout, and a
//! connection still shaking hands can be closed to make room); each connection takes the TLS
//! configuration current when it was accepted. A client certificate's subject goes with every
//! request on its connection, for the gate to map to a role.
//!
//! Stopping (the `shutdown` future completing) closes the listener at once, so new connections
//! are refused; idle connections close, requests in flight are answered and their connections
//! then close, for at most `SHUTDOWN_GRACE` (or the request timeout, if shorter).

use super::clients::{CertSubject, PeerCertificate};
use super::limits::{Limits, MAX_HEAD_BYTES};
use super::tls::ServerTls;
use super::{ServerState, router};
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tower_service::Service as _;

/// The longest a stop waits for requests in flight to be answered.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long the accept loop pauses after the system refuses it a connection (out of file
/// descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Where a connection is between requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request head since `since`: on a new connection or with the head begun,
    /// for at most the header-read timeout; idle between requests, for the idle timeout.
    Waiting { since: Instant, reading: bool },
    /// Requests in flight: `running` being answered, and answers hyper has taken but not yet
    /// all written to the socket (`sending`: how many, and since when), for at most the request
    /// timeout. Until its answer is written a request is in flight: a stop or a client needing
    /// room must not cut it short.
    Busy {
        running: usize,
        sending: Option<(usize, Instant)>,
    },
}

/// Why a connection's wait ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Overdue {
    /// No request head (or not all of one) in time.
    Request,
    /// The client did not take its answer in time.
    Answer,
}

/// One open connection, as the table and its task share it.
#[derive(Debug)]
struct Conn {
    phase: Mutex<Phase>,
    /// The deadline may have moved (a head begun, an answer handed over).
    changed: Notify,
    /// Close, to make room for another.
    evict: Notify,
    /// Told when a connection's requests are all answered (so it can be evicted).
    went_idle: Arc<Notify>,
}

impl Conn {
    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the connection's wait runs out, and what it is waiting for, if it waits on the
    /// client.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, Overdue)> {
        match *self.phase() {
            Phase::Waiting { since, reading } => Some((
                since
                    + if reading {
                        limits.header_read_timeout
                    } else {
                        limits.idle_timeout
                    },
                Overdue::Request,
            )),
            Phase::Busy {
                running: 0,
                sending: Some((_, since)),
            } => Some((since + limits.request_timeout, Overdue::Answer)),
            Phase::Busy { .. } => None,
        }
    }

    /// Bytes arrived: an idle connection has begun a request head.
    fn bytes_arrived(&self) {
        let mut phase = self.phase();
        if matches!(*phase, Phase::Waiting { reading: false, .. }) {
            *phase = Phase::Waiting {
                since: Instant::now(),
                reading: true,
            };
            drop(phase);
            self.changed.notify_one();
        }
    }

    fn request_started(&self) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy { running, sending } => Phase::Busy {
                running: running + 1,
                sending,
            },
            Phase::Waiting { .. } => Phase::Busy {
                running: 1,
                sending: None,
            },
        };
    }

    /// Hyper has taken all of an answer's body (or dropped it); it is written by the next flush
    /// that completes.
    fn answer_handed(&self) {
        let mut phase = self.phase();
        if let Phase::Busy { running, sending } = *phase {
            let (count, since) = sending.unwrap_or((0, Instant::now()));
            *phase = Phase::Busy {
                running: running.saturating_sub(1),
                sending: Some((count + 1, since)),
            };
        }
        drop(phase);
        self.changed.notify_one();
    }

    /// A flush completed: every answer handed over before it is written.
    fn flushed(&self) {
        let mut phase = self.phase();
        let Phase::Busy {
            running,
            sending: Some(_),
        } = *phase
        else {
            return;
        };
        *phase = if running > 0 {
            Phase::Busy {
                running,
                sending: None,
            }
        } else {
            Phase::Waiting {
                since: Instant::now(),
                reading: false,
            }
        };
        drop(phase);
        self.changed.notify_one();
        self.went_idle.notify_one();
    }
}

/// A request in flight on a connection, from its head's arrival until hyper has taken its
/// answer's body (or dropped it); the answer is then in flight until written (`Conn::flushed`).
struct InFlight(Arc<Conn>);

impl InFlight {
    fn start(conn: &Arc<Conn>) -> InFlight {
        conn.request_started();
        InFlight(Arc::clone(conn))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.answer_handed();
    }
}

/// An answer's body, holding its request in flight until hyper has taken all of it.
struct Tracked {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The open connections, by the order they were opened.
#[derive(Debug)]
struct Table {
    permits: Arc<Semaphore>,
    conns: Mutex<BTreeMap<u64, Arc<Conn>>>,
    next_id: Mutex<u64>,
    went_idle: Arc<Notify>,
}

/// A place in the table, given back when dropped.
struct Slot {
    table: Arc<Table>,
    id: u64,
    conn: Arc<Conn>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.conns().remove(&self.id);
    }
}

impl Table {
    fn new(max_connections: usize) -> Arc<Table> {
        Arc::new(Table {
            permits: Arc::new(Semaphore::new(max_connections)),
            conns: Mutex::new(BTreeMap::new()),
            next_id: Mutex::new(0),
            went_idle: Arc::new(Notify::new()),
        })
    }

    fn conns(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(self: &Arc<Table>, permit: OwnedSemaphorePermit) -> Slot {
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let conn = Arc::new(Conn {
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
                reading: true,
            }),
            changed: Notify::new(),
            evict: Notify::new(),
            went_idle: Arc::clone(&self.went_idle),
        });
        self.conns().insert(id, Arc::clone(&conn));
        Slot {
            table: Arc::clone(self),
            id,
            conn,
            _permit: permit,
        }
    }

    /// Asks the connection that has waited longest for a request to close, and takes it out
    /// of the table so that it is asked once.
    fn evict_longest_waiting(&self) {
        let mut conns = self.conns();
        let longest = conns
            .iter()
            .filter_map(|(id, c)| match *c.phase() {
                Phase::Waiting { since, .. } => Some((since, *id)),
                Phase::Busy { .. } => None,
            })
            .min();
        if let Some((_, id)) = longest
            && let Some(conn) = conns.remove(&id)
        {
            conn.evict.notify_one();
        }
    }

    /// Waits for room for one more connection, closing a waiting one to make it when the table
    /// is full.
    async fn room(self: &Arc<Table>) -> Slot {
        loop {
            if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
                return self.register(permit);
            }
            self.evict_longest_waiting();
            tokio::select! {
                permit = Arc::clone(&self.permits).acquire_owned() => {
                    if let Ok(permit) = permit {
                        return self.register(permit);
                    }
                }
                () = self.went_idle.notified() => {}
            }
        }
    }

    /// Asks every connection to close once its request in flight is answered.
    fn close_all(&self) {
        for conn in self.conns().values() {
            conn.evict.notify_one();
        }
    }
}

/// A connection's stream (after TLS, if any), telling its `Conn` when bytes of a request
/// arrive.
struct Watched<S> {
    inner: S,
    conn: Arc<Conn>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.bytes_arrived();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    /// Hyper flushes the socket only once its own buffer is written into it, and does after
    /// taking each answer's body: a flush that completes is an answer written.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(polled, Poll::Ready(Ok(()))) {
            self.conn.flushed();
        }
        polled
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

async fn sleep_until(deadline: Option<(Instant, Overdue)>) {
    match deadline {
        Some((d, _)) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Shakes hands with a TLS client, within the header-read timeout and unless asked to close
/// meanwhile; the stream and the client certificate's subject (with mutual TLS), or `None`.
async fn handshake(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    conn: &Conn,
    limits: &Limits,
) -> Option<(TlsStream<TcpStream>, Option<PeerCertificate>)> {
    let accepted = tokio::select! {
        a = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)) => a,
        () = conn.evict.notified() => {
            tracing::debug!(client = %peer, "closing a connection still shaking hands");
            return None;
        }
    };
    let stream = match accepted {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            // A client that spoke TLS and was refused (no certificate, an untrusted one, no
            // common protocol) is worth an operator's notice; a probe that only opened the
            // port and closed it is not.
            if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
                tracing::info!(client = %peer, error = %e, "tls handshake refused");
            } else {
                tracing::debug!(client = %peer, error = %e, "tls handshake failed");
            }
            return None;
        }
        Err(_) => {
            tracing::debug!(client = %peer, "closing a connection that did not finish its tls handshake in time");
            return None;
        }
    };
    let leaf = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(<[_]>::first);
    let certificate = match leaf.map(|der| CertSubject::from_der(der)) {
        None => None,
        Some(Ok(subject)) => Some(PeerCertificate(Arc::new(subject))),
        Some(Err(e)) => {
            // The client CA vouched for it, so it is X.509 to webpki; a subject this cannot
            // read maps to no role, and the client still needs a token.
            tracing::warn!(client = %peer, error = %e, "cannot read a client certificate's subject");
            None
        }
    };
    Some((stream, certificate))
}

/// Accepts one connection, over TLS when `tls` is given, and serves it.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    slot: Slot,
    limits: Limits,
    tls: Option<TlsAcceptor>,
) {
    match tls {
        None => serve_connection(stream, peer, None, app, slot, limits).await,
        Some(acceptor) => {
            let conn = Arc::clone(&slot.conn);
            if let Some((stream, certificate)) =
                handshake(stream, peer, acceptor, &conn, &limits).await
            {
                serve_connection(stream, peer, certificate, app, slot, limits).await;
            }
        }
    }
}

/// Serves one connection until it closes, waits too long, or is asked to close.
async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    certificate: Option<PeerCertificate>,
    app: Router,
    slot: Slot,
    limits: Limits,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = Arc::clone(&slot.conn);
    let io = TokioIo::new(Watched {
        inner: stream,
        conn: Arc::clone(&conn),
    });
    let for_requests = Arc::clone(&conn);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let in_flight = InFlight::start(&for_requests);
        req.extensions_mut().insert(ConnectInfo(peer));
        if let Some(c) = &certificate {
            req.extensions_mut().insert(c.clone());
        }
        let mut app = app.clone();
        async move {
            let answer = app.call(req).await;
            answer.map(|r| {
                r.map(|inner| Tracked {
                    inner,
                    _in_flight: in_flight,
                })
            })
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // The header-read and idle timeouts are this task's, below: hyper's would count the
        // idle time between requests as header-read time.
        .header_read_timeout(None)
        .max_header_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let mut served = Box::pin(builder.serve_connection(io, service));
    let busy = loop {
        let deadline = conn.deadline(&limits);
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(client = %peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = conn.changed.notified() => {}
            () = sleep_until(deadline) => {
                match conn.deadline(&limits) {
                    Some((d, Overdue::Request)) if d <= Instant::now() => {
                        tracing::debug!(client = %peer, "closing a connection that waited too long for a request");
                        break false;
                    }
                    Some((d, Overdue::Answer)) if d <= Instant::now() => {
                        tracing::info!(client = %peer, "closing a connection whose client did not take its answer within the request timeout");
                        break false;
                    }
                    _ => {}
                }
            }
            () = conn.evict.notified() => {
                tracing::debug!(client = %peer, "closing a connection, to make room or to stop");
                break matches!(*conn.phase(), Phase::Busy { .. });
            }
        }
    };
    if busy {
        // A request that arrived meanwhile is answered first.
        served.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(limits.request_timeout, served.as_mut()).await;
    }
    // Nothing is in flight: the connection is dropped, half a head and all. The socket closes
    // before the slot is given back, so an evicted client sees its end before a new one is let
    // in.
    drop(served);
    drop(slot);
}

/// Serves the API on `listener` in plain HTTP until `shutdown` completes, then stops (see the
/// module's doc).
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// Serves the API on `listener`, over TLS when `tls` is given, until `shutdown` completes, then
/// stops (see the module's doc).
pub async fn serve_with(
    listener: TcpListener,
    state: Arc<ServerState>,
    tls: Option<Arc<ServerTls>>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let limits = state.limits.clone();
    let app = router(state);
    let table = Table::new(limits.max_connections);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let slot = tokio::select! {
            s = table.room() => s,
            () = &mut shutdown => break,
        };
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        tokio::spawn(connection(
            stream,
            peer,
            app.clone(),
            slot,
            limits.clone(),
            acceptor,
        ));
    }
    drop(listener);
    let grace = SHUTDOWN_GRACE.min(limits.request_timeout);
    tracing::info!(
        grace_ms = grace.as_millis(),
        "stopping: refusing new connections, answering requests in flight"
    );
    table.close_all();
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let closed = tokio::time::timeout(grace, Arc::clone(&table.permits).acquire_many_owned(all))
        .await
        .is_ok();
    if closed {
        tracing::info!("stopped: every connection closed");
    } else {
        tracing::warn!(
            open = table.conns().len(),
            grace_ms = grace.as_millis(),
            "stopped with connections still answering after the grace period"
        );
    }
    Ok(())
}
