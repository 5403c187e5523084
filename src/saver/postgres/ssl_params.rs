//! libpq's `sslmode` and `sslrootcert` in a connection URL or key/value
//! string: taken out (the driver's parser knows neither `verify-full` nor
//! `sslrootcert`) and turned into a [`PostgresTlsMode`].

use std::path::PathBuf;

use super::options::PostgresTlsMode;

/// `url` without `sslmode`/`sslrootcert`, and the mode they ask for
/// (`None` without `sslmode`). `Err` says what is wrong with them.
pub(crate) fn split_ssl_params(url: &str) -> Result<(String, Option<PostgresTlsMode>), String> {
    let is_uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let (rest, params) = if is_uri {
        take_from_uri(url)
    } else {
        take_from_key_values(url)
    };
    let mut mode = None;
    let mut root_cert = None;
    for (key, value) in params {
        if key == "sslmode" {
            mode = Some(value);
        } else {
            root_cert = Some(PathBuf::from(value));
        }
    }
    let Some(mode) = mode else {
        return Ok((rest, None));
    };
    let mode = match (mode.as_str(), root_cert) {
        ("disable" | "allow" | "prefer", _) => PostgresTlsMode::Disable,
        ("require", _) => PostgresTlsMode::Require,
        ("verify-full", Some(ca_file)) => PostgresTlsMode::VerifyFull { ca_file },
        ("verify-full", None) => {
            return Err("sslmode=verify-full needs sslrootcert=<CA file (PEM)>".to_owned());
        }
        ("verify-ca", _) => {
            return Err(
                "sslmode=verify-ca is not supported: use verify-full (or require)".to_owned(),
            );
        }
        (other, _) => {
            return Err(format!(
                "sslmode={other:?} is not one of disable, allow, prefer, require, verify-full"
            ));
        }
    };
    Ok((rest, Some(mode)))
}

fn is_ssl_key(key: &str) -> bool {
    key == "sslmode" || key == "sslrootcert"
}

/// `postgresql://…?a=b&sslmode=…`: the query without the TLS keys.
fn take_from_uri(url: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some((key, value)) if is_ssl_key(key) => {
                taken.push((key.to_owned(), percent_decode(value)));
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, taken)
}

/// `host=… sslmode=…`: the string without the TLS pairs (values without
/// spaces; libpq's quoting is not needed for these two keys).
fn take_from_key_values(url: &str) -> (String, Vec<(String, String)>) {
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for token in url.split_whitespace() {
        match token.split_once('=') {
            Some((key, value)) if is_ssl_key(key) => {
                let value = value.trim_matches('\'');
                taken.push((key.to_owned(), value.to_owned()));
            }
            _ => kept.push(token),
        }
    }
    (kept.join(" "), taken)
}

/// `%2F` and the like in a URI's query value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_keys_are_taken_out_of_a_uri() {
        let url = "postgresql://u@h:5/db?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem";
        let (rest, mode) = split_ssl_params(url).unwrap_or_default();
        assert_eq!(rest, "postgresql://u@h:5/db?connect_timeout=3");
        assert_eq!(
            mode,
            Some(PostgresTlsMode::VerifyFull {
                ca_file: "/tmp/ca.pem".into()
            })
        );
        let (rest, mode) = split_ssl_params("postgres://h/db?sslmode=require").unwrap_or_default();
        assert_eq!(
            (rest.as_str(), mode),
            ("postgres://h/db", Some(PostgresTlsMode::Require))
        );
    }

    #[test]
    fn the_tls_keys_are_taken_out_of_key_values() {
        let (rest, mode) = split_ssl_params("host=h sslmode=prefer dbname=d").unwrap_or_default();
        assert_eq!(
            (rest.as_str(), mode),
            ("host=h dbname=d", Some(PostgresTlsMode::Disable))
        );
        let (rest, mode) = split_ssl_params("host=h").unwrap_or_default();
        assert_eq!((rest.as_str(), mode), ("host=h", None));
    }

    #[test]
    fn modes_this_saver_cannot_honour_are_errors() {
        let err = |url| split_ssl_params(url).err().unwrap_or_default();
        assert!(err("postgres://h/d?sslmode=verify-full").contains("sslrootcert"));
        assert!(err("postgres://h/d?sslmode=verify-ca").contains("verify-full"));
        assert!(err("host=h sslmode=sometimes").contains("sometimes"));
    }
}
