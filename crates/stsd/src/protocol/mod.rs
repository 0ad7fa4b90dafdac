//! The AWS Query protocol: request decoding, XML response and error envelopes.

/// The Query decoder lives in the wire crate; re-exported so the server and actions keep their paths.
pub mod query {
    pub use stsd_wire::query::*;
}
/// The XML writer lives in the wire crate.
pub mod xml {
    pub use stsd_wire::xml::*;
}

use crate::error::ApiError;
use xml::Xml;

pub const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
pub const IAM_NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub const STS_VERSION: &str = "2011-06-15";
pub const IAM_VERSION: &str = "2010-05-08";

/// Which AWS service an action belongs to; decides namespace, version and SigV4 service name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Sts,
    Iam,
}

impl Service {
    pub fn namespace(self) -> &'static str {
        match self {
            Service::Sts => STS_NS,
            Service::Iam => IAM_NS,
        }
    }
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Sts => "sts",
            Service::Iam => "iam",
        }
    }
    pub fn version(self) -> &'static str {
        match self {
            Service::Sts => STS_VERSION,
            Service::Iam => IAM_VERSION,
        }
    }
    /// Event source name, as CloudTrail writes it.
    pub fn event_source(self) -> &'static str {
        match self {
            Service::Sts => "sts.amazonaws.com",
            Service::Iam => "iam.amazonaws.com",
        }
    }
}

/// Wrap an action's result members (already XML) in the `{Action}Response` envelope.
pub fn success_body(
    service: Service,
    action: &str,
    result: Option<&str>,
    request_id: &str,
) -> String {
    let resp = format!("{action}Response");
    let mut x = Xml::new();
    x.open_ns(&resp, service.namespace());
    if let Some(r) = result {
        let wrapper = format!("{action}Result");
        x.open(&wrapper).raw(r).close(&wrapper);
    }
    x.open("ResponseMetadata")
        .elem("RequestId", request_id)
        .close("ResponseMetadata");
    x.close(&resp);
    x.finish()
}

/// The `ErrorResponse` envelope.
pub fn error_body(service: Service, err: &ApiError, request_id: &str) -> String {
    let status = err.code.status();
    let mut x = Xml::new();
    x.open_ns("ErrorResponse", service.namespace())
        .open("Error")
        .elem("Type", if status >= 500 { "Receiver" } else { "Sender" })
        .elem("Code", err.code.as_str())
        .elem("Message", &err.message)
        .close("Error")
        .elem("RequestId", request_id)
        .close("ErrorResponse");
    x.finish()
}

/// RFC 3986 percent-encoding of a policy document, as IAM returns documents (`%20` for space, never `+`).
pub fn url_encode_policy(doc: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(doc, SET).to_string()
}
