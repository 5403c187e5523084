//! [`PostgresTls`]: the TLS connector of the saver's pool, made from a
//! [`PostgresTlsMode`]. With the feature `postgres-tls` it is rustls (ring
//! provider) through `tokio-postgres-rustls`; without it, plain
//! connections only, and asking for TLS is an error that names the
//! feature.

use postgres::Socket;
use postgres::tls::MakeTlsConnect;

use super::options::PostgresTlsMode;

/// The TLS connector of a [`PostgresPool`](crate::PostgresPool).
///
/// Build a pool of your own for
/// [`PostgresSaver::from_pool`](crate::PostgresSaver::from_pool) with it:
///
/// ```no_run
/// use checkpointer::{PostgresSaver, PostgresTls, PostgresTlsMode};
/// use r2d2_postgres::PostgresConnectionManager;
/// let config = "host=127.0.0.1 user=postgres sslmode=disable".parse()?;
/// let tls = PostgresTls::new(&PostgresTlsMode::Disable)?;
/// let pool = r2d2::Pool::new(PostgresConnectionManager::new(config, tls))?;
/// let saver = PostgresSaver::from_pool(pool, "local")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Set the config's `ssl_mode` to match, as
/// [`PostgresSaver::open_with`](crate::PostgresSaver::open_with) does:
/// `Require` with TLS (the driver's default, `Prefer`, would fall back to
/// a plain connection), `Disable` without (with the feature
/// `postgres-tls`, a mode-`Disable` connector fails a server that offers
/// TLS under `Prefer`).
#[derive(Clone)]
pub struct PostgresTls {
    inner: imp::Connector,
}

impl std::fmt::Debug for PostgresTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTls")
            .field("inner", &self.inner)
            .finish()
    }
}

impl PostgresTls {
    /// The connector for `mode`. `Err` (a message) for a CA file that
    /// cannot be read or holds no certificate, and, without the feature
    /// `postgres-tls`, for any mode but [`PostgresTlsMode::Disable`].
    pub fn new(mode: &PostgresTlsMode) -> Result<Self, String> {
        Ok(PostgresTls {
            inner: imp::connector(mode)?,
        })
    }
}

impl MakeTlsConnect<Socket> for PostgresTls {
    type Stream = <imp::Connector as MakeTlsConnect<Socket>>::Stream;
    type TlsConnect = <imp::Connector as MakeTlsConnect<Socket>>::TlsConnect;
    type Error = <imp::Connector as MakeTlsConnect<Socket>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        MakeTlsConnect::<Socket>::make_tls_connect(&mut self.inner, domain)
    }
}

#[cfg(not(feature = "postgres-tls"))]
mod imp {
    use super::PostgresTlsMode;

    pub(super) type Connector = postgres::NoTls;

    pub(super) fn connector(mode: &PostgresTlsMode) -> Result<Connector, String> {
        match mode {
            PostgresTlsMode::Disable => Ok(postgres::NoTls),
            other => Err(format!(
                "TLS ({other:?}) needs checkpointer's feature `postgres-tls`, \
                 which this build does not have"
            )),
        }
    }
}

#[cfg(feature = "postgres-tls")]
mod imp {
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;

    use postgres::Socket;
    use postgres::tls::{MakeTlsConnect, TlsConnect};
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
    use tokio_postgres_rustls::MakeRustlsConnect;

    use super::PostgresTlsMode;

    /// rustls, or nothing for [`PostgresTlsMode::Disable`] (whose configs
    /// have `ssl_mode` `Disable`, so the driver never asks for TLS).
    #[derive(Clone)]
    pub struct Connector(Option<MakeRustlsConnect>);

    impl std::fmt::Debug for Connector {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_tuple("Connector").field(&self.0.is_some()).finish()
        }
    }

    pub(super) fn connector(mode: &PostgresTlsMode) -> Result<Connector, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let config = match mode {
            PostgresTlsMode::Disable => return Ok(Connector(None)),
            PostgresTlsMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth(),
            PostgresTlsMode::VerifyFull { ca_file } => builder
                .with_root_certificates(roots(ca_file)?)
                .with_no_client_auth(),
        };
        Ok(Connector(Some(MakeRustlsConnect::new(config))))
    }

    fn roots(ca_file: &std::path::Path) -> Result<RootCertStore, String> {
        let what = || format!("the CA file {}", ca_file.display());
        let mut roots = RootCertStore::empty();
        for cert in
            CertificateDer::pem_file_iter(ca_file).map_err(|e| format!("read {}: {e}", what()))?
        {
            let cert = cert.map_err(|e| format!("read {}: {e}", what()))?;
            roots
                .add(cert)
                .map_err(|e| format!("a certificate of {}: {e}", what()))?;
        }
        if roots.is_empty() {
            return Err(format!("{} holds no PEM certificate", what()));
        }
        Ok(roots)
    }

    type Rustls = <MakeRustlsConnect as MakeTlsConnect<Socket>>::TlsConnect;
    type Stream = <Rustls as TlsConnect<Socket>>::Stream;

    impl MakeTlsConnect<Socket> for Connector {
        type Stream = Stream;
        type TlsConnect = Connect;
        type Error = io::Error;

        fn make_tls_connect(&mut self, domain: &str) -> Result<Connect, io::Error> {
            match &mut self.0 {
                Some(rustls) => match MakeTlsConnect::<Socket>::make_tls_connect(rustls, domain) {
                    Ok(connect) => Ok(Connect(Some(connect))),
                    Err(never) => match never {},
                },
                None => Ok(Connect(None)),
            }
        }
    }

    /// One connection's handshake; `None` (mode `Disable`) fails it, as the
    /// driver only asks when the config's `ssl_mode` is not `Disable`.
    pub struct Connect(Option<Rustls>);

    impl std::fmt::Debug for Connect {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_tuple("Connect").field(&self.0.is_some()).finish()
        }
    }

    impl TlsConnect<Socket> for Connect {
        type Stream = Stream;
        type Error = io::Error;
        type Future = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

        fn connect(self, stream: Socket) -> Self::Future {
            match self.0 {
                Some(rustls) => Box::pin(rustls.connect(stream)),
                None => Box::pin(std::future::ready(Err(io::Error::other(
                    "the server offered TLS but this connector's mode is Disable: \
                     set the config's ssl_mode to Disable",
                )))),
            }
        }
    }

    /// `sslmode=require`: any certificate is accepted, but the handshake's
    /// signatures are still checked, so the session is encrypted to
    /// whoever holds the certificate's key.
    #[derive(Debug)]
    struct EncryptOnly(Arc<CryptoProvider>);

    impl ServerCertVerifier for EncryptOnly {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "postgres-tls"))]
    #[test]
    fn asking_for_tls_without_the_feature_names_it() {
        let err = PostgresTls::new(&PostgresTlsMode::Require).err();
        assert!(err.unwrap_or_default().contains("postgres-tls"));
        assert!(PostgresTls::new(&PostgresTlsMode::Disable).is_ok());
    }

    #[cfg(feature = "postgres-tls")]
    #[test]
    fn a_missing_or_empty_ca_file_is_an_error() {
        let missing = PostgresTlsMode::VerifyFull {
            ca_file: "/nonexistent/ca.pem".into(),
        };
        let err = PostgresTls::new(&missing).err().unwrap_or_default();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        assert!(PostgresTls::new(&PostgresTlsMode::Require).is_ok());
    }
}
