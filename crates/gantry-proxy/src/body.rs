//! The bodies the proxy sends: request bodies to a backend (buffered when small, so a failed
//! attempt can be retried elsewhere) and response bodies to the client (a backend's, which keeps
//! the backend counted as busy until it has been sent, or one the proxy wrote itself).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::routes::InFlight;
use crate::stats::Recorder;

/// A request body on its way to a backend.
#[derive(Debug)]
pub(crate) enum RequestBody {
    /// The whole body, already read; `None` once sent.
    Buffered(Option<Bytes>),
    /// A body too large to buffer: the chunks read so far, then the rest straight from the client.
    Streaming {
        read: VecDeque<Bytes>,
        rest: Incoming,
    },
}

/// The client's request body after the proxy tried to buffer it.
pub(crate) enum ReadBody {
    /// Read whole: can be sent any number of times.
    Buffered(Bytes),
    /// Larger than the limit: can be sent once.
    Streaming(RequestBody),
}

/// Reads `body` into memory if it is at most `limit` bytes, so the request can be retried.
pub(crate) async fn read_body(mut body: Incoming, limit: usize) -> Result<ReadBody, hyper::Error> {
    if body.size_hint().lower() > limit as u64 {
        return Ok(ReadBody::Streaming(RequestBody::Streaming {
            read: VecDeque::new(),
            rest: body,
        }));
    }
    let mut read = VecDeque::new();
    let mut size = 0;
    while !body.is_end_stream() {
        let Some(frame) = body.frame().await else {
            break;
        };
        // Request trailers are dropped: HTTP/1.1 backends rarely accept them.
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        size += data.len();
        read.push_back(data);
        if size > limit {
            return Ok(ReadBody::Streaming(RequestBody::Streaming {
                read,
                rest: body,
            }));
        }
    }
    Ok(ReadBody::Buffered(match read.len() {
        0 => Bytes::new(),
        1 => read.pop_front().unwrap_or_default(),
        _ => read
            .into_iter()
            .fold(BytesMut::with_capacity(size), |mut whole, chunk| {
                whole.extend_from_slice(&chunk);
                whole
            })
            .freeze(),
    }))
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            Self::Buffered(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|bytes| !bytes.is_empty())
                    .map(|bytes| Ok(Frame::data(bytes))),
            ),
            Self::Streaming { read, rest } => match read.pop_front() {
                Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                None => Pin::new(rest).poll_frame(context),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Buffered(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            Self::Streaming { read, rest } => read.is_empty() && rest.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Buffered(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
            }
            Self::Streaming { read, rest } => {
                let read: u64 = read.iter().map(|chunk| chunk.len() as u64).sum();
                let rest = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(read + rest.lower());
                if let Some(upper) = rest.upper() {
                    hint.set_upper(read + upper);
                }
                hint
            }
        }
    }
}

/// A response body on its way to the client.
#[derive(Debug)]
pub(crate) enum ResponseBody {
    /// A backend's body; the backend counts as busy until this is dropped. A body that breaks
    /// off is counted against the backend and `version`.
    Backend {
        body: Incoming,
        in_flight: InFlight,
        version: Arc<Recorder>,
    },
    /// An answer the proxy wrote itself.
    Local(Option<Bytes>),
}

impl ResponseBody {
    pub(crate) fn local(text: impl Into<Bytes>) -> Self {
        Self::Local(Some(text.into()))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            Self::Backend {
                body,
                in_flight,
                version,
            } => {
                let frame = Pin::new(body).poll_frame(context);
                if let Poll::Ready(Some(Err(_))) = &frame {
                    version.record_interrupted();
                    in_flight.backend().recorder.record_interrupted();
                }
                frame
            }
            Self::Local(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|bytes| !bytes.is_empty())
                    .map(|bytes| Ok(Frame::data(bytes))),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Backend { body, .. } => body.is_end_stream(),
            Self::Local(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Backend { body, .. } => body.size_hint(),
            Self::Local(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
            }
        }
    }
}
