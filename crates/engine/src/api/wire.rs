//! The API's TCP listener. hyper answers a request it cannot parse by itself, before the router sees it: 400
//! (a request target with bytes that are not ASCII, a bad header), 414 (a request target longer than 65534
//! bytes) or 431 (headers too large), each with an empty body. Those answers are the only ones with such a
//! status and no body (every answer of the router carries a JSON body), so the connection recognises them as
//! they are written and writes the JSON error shape instead.

use axum::http::StatusCode;
use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};

/// A [`TcpListener`] for `axum::serve` whose connections answer hyper's own parse errors in the API's JSON
/// error shape.
#[derive(Debug)]
pub struct Listener(pub TcpListener);

impl axum::serve::Listener for Listener {
    type Io = Conn;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.0).await;
        (
            Conn {
                inner: stream,
                replacing: None,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// A connection of [`Listener`].
#[derive(Debug)]
pub struct Conn {
    inner: TcpStream,
    /// A rewritten answer being written: its bytes and how many are written.
    replacing: Option<(Vec<u8>, usize)>,
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    /// hyper writes an answer's head and body from one buffer (this type does not offer vectored writes) and,
    /// after `Pending`, calls again with the same bytes; a rewritten answer reports the original as written
    /// once all of the rewrite is.
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            match rewrite(buf) {
                Some(json) => this.replacing = Some((json, 0)),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        if let Some((bytes, written)) = &mut this.replacing {
            while *written < bytes.len() {
                match ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..])) {
                    Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Ok(n) => *written += n,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
        }
        this.replacing = None;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// If `out` is exactly one of hyper's bodiless parse-error answers (status line, headers with
/// `content-length: 0` and no content type, blank line, nothing after), the same answer with a JSON error
/// body instead.
fn rewrite(out: &[u8]) -> Option<Vec<u8>> {
    let head = out.strip_suffix(b"\r\n\r\n")?;
    if head.windows(4).any(|w| w == b"\r\n\r\n") {
        return None;
    }
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?
        .get(..3)?;
    let message = match code
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())?
    {
        StatusCode::BAD_REQUEST => {
            "malformed request: it could not be parsed (a request target must be ASCII: percent-encode other bytes)"
        }
        StatusCode::URI_TOO_LONG => "URI too long: at most 65534 bytes",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "request headers too large",
        _ => return None,
    };
    let headers: Vec<&str> = lines.collect();
    let name = |line: &str| {
        line.split_once(':')
            .map(|(n, _)| n.trim().to_ascii_lowercase())
    };
    let empty = headers.iter().any(|l| {
        name(l).as_deref() == Some("content-length")
            && l.split_once(':').is_some_and(|(_, v)| v.trim() == "0")
    });
    let typed = headers
        .iter()
        .any(|l| name(l).as_deref() == Some("content-type"));
    if !empty || typed {
        return None;
    }
    let body = serde_json::json!({ "error": message }).to_string();
    let mut answer = format!("{status_line}\r\n");
    for line in headers
        .iter()
        .filter(|l| name(l).as_deref() != Some("content-length"))
    {
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    answer.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Some(answer.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn rewrites_only_bodiless_parse_error_answers() {
        let out = rewrite(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n")
            .expect("rewritten");
        let out = String::from_utf8(out).expect("utf-8");
        let body = r#"{"error":"URI too long: at most 65534 bytes"}"#;
        assert_eq!(
            out,
            format!(
                "HTTP/1.1 414 URI Too Long\r\ndate: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
        );
        for kept in [
            // A router answer: it has a body and a content type.
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"[..],
            // A HEAD answer to an API error: a content type, no body.
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n",
            // Other statuses.
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            // Not the whole answer.
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
        ] {
            assert_eq!(rewrite(kept), None, "{}", String::from_utf8_lossy(kept));
        }
    }
}
