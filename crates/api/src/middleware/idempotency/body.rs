//! The request body, read once to fingerprint it and handed on unchanged: in memory
//! up to the JSON limit, in a temporary file beyond (a CSV import sent with a key),
//! never more than the import limit.

use std::io::{Read, Seek, Write};

use actix_web::HttpMessage;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{Bytes, BytesMut};
use futures_util::StreamExt;
use ordercrm_kernel::Error;
use ordercrm_kernel::error::problems;
use sha2::{Digest, Sha256};

enum Spool {
    Memory(BytesMut),
    File(std::fs::File),
}

/// Whether the body is a file upload (CSV), which may be larger than a JSON body.
pub fn is_upload(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv") || v.starts_with("multipart/form-data"))
}

/// Read the body, put it back, and return what makes two requests "the same":
/// method, path with query, media type, precondition and body.
pub async fn fingerprint(
    req: &mut ServiceRequest,
    in_memory: usize,
    max: u64,
) -> Result<String, Error> {
    let mut h = Sha256::new();
    h.update(req.method().as_str());
    h.update(b" ");
    h.update(req.uri().path_and_query().map_or("", |p| p.as_str()));
    h.update(b"\n");
    h.update(
        req.headers()
            .get(header::CONTENT_TYPE)
            .map_or(&b""[..], HeaderValue::as_bytes),
    );
    h.update(b"\n");
    h.update(
        req.headers()
            .get(header::IF_MATCH)
            .map_or(&b""[..], HeaderValue::as_bytes),
    );
    h.update(b"\n");

    let too_large = || {
        Error::new(
            problems::PAYLOAD_TOO_LARGE,
            format!("request body exceeds {max} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut payload = req.take_payload();
    let mut spool = Spool::Memory(BytesMut::new());
    let mut size = 0u64;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            Error::new(
                problems::MALFORMED_REQUEST,
                format!("could not read body: {e}"),
            )
        })?;
        size += chunk.len() as u64;
        if size > max {
            return Err(too_large());
        }
        h.update(&chunk);
        spool = match spool {
            Spool::Memory(mut buf) if buf.len() + chunk.len() <= in_memory => {
                buf.extend_from_slice(&chunk);
                Spool::Memory(buf)
            }
            Spool::Memory(buf) => {
                let mut file = tempfile::tempfile().map_err(Error::internal)?;
                file.write_all(&buf).map_err(Error::internal)?;
                file.write_all(&chunk).map_err(Error::internal)?;
                Spool::File(file)
            }
            Spool::File(mut file) => {
                file.write_all(&chunk).map_err(Error::internal)?;
                Spool::File(file)
            }
        };
    }
    req.set_payload(match spool {
        Spool::Memory(buf) => Payload::from(buf.freeze()),
        Spool::File(mut file) => {
            file.rewind().map_err(Error::internal)?;
            from_file(file)
        }
    });
    Ok(hex(&h.finalize()))
}

fn from_file(file: std::fs::File) -> Payload {
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0; 64 * 1024];
        match file.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(PayloadError::Io(e)), None)),
        }
    });
    Payload::from(Box::pin(chunks) as std::pin::Pin<Box<dyn futures_util::Stream<Item = _>>>)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
