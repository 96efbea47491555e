//! Bad TLS over real sockets: a Langfuse sandbox behind a TLS-terminating proxy whose certificate
//! is made on the fly (self-signed, expired, for another name, or signed by a private CA). Each
//! problem gets its own plain sentence; a private CA is trusted through a CA file, never by
//! turning verification off. Keys are not sent over plain http to another host unconfirmed.

mod common;
use common::*;
use langfuse_sandbox::ServerProfile;
use migrator_engine::{
    ConnectionError, EndpointSpec, EngineError, Generation, LangfuseEndpoint, Plan,
    check_connection,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, date_time_ymd,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls;

const SECRET: &str = "sk-lf-sandbox";

fn connection_error(e: EngineError) -> ConnectionError {
    match e {
        EngineError::Connection(c) => c,
        other => panic!("not a connection error: {other}"),
    }
}

/// A certificate authority of our own, as a company running Langfuse behind it would have.
fn private_ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "Test Private CA");
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A server certificate for `names`, signed by `ca` (self-signed when `None`), valid from
/// `not_before` to `not_after` (years).
struct ServerCert {
    der: rustls::pki_types::CertificateDer<'static>,
    pem: String,
    key: KeyPair,
}

fn server_cert(
    names: &[&str],
    ca: Option<&CertifiedIssuer<'static, KeyPair>>,
    years: (i32, i32),
) -> ServerCert {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.not_before = date_time_ymd(years.0, 1, 1);
    params.not_after = date_time_ymd(years.1, 1, 1);
    let key = KeyPair::generate().unwrap();
    let cert = match ca {
        Some(ca) => params.signed_by(&key, ca).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    ServerCert {
        der: cert.der().clone(),
        pem: cert.pem(),
        key,
    }
}

/// Valid now: from 2020 to 2100.
const CURRENT: (i32, i32) = (2020, 2100);

/// Serves HTTPS on 127.0.0.1 with `cert`, passing every decrypted connection on to `backend`
/// (a sandbox's plain-HTTP address). Returns the `https://` address.
async fn tls_proxy(backend: &str, cert: ServerCert) -> String {
    let backend = backend.trim_start_matches("http://").to_string();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der],
            rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, backend) = (acceptor.clone(), backend.clone());
            tokio::spawn(async move {
                // A refused handshake is what most tests expect: nothing to pass on then.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Ok(mut plain) = tokio::net::TcpStream::connect(&backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                }
            });
        }
    });
    format!("https://{addr}")
}

fn write_pem(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

fn langfuse_at(url: &str, ca_file: Option<&Path>) -> LangfuseEndpoint {
    let mut e = LangfuseEndpoint::new(url, "pk-lf-sandbox", SECRET);
    e.ca_file = ca_file.map(Path::to_path_buf);
    e
}

async fn refusal(endpoint: &LangfuseEndpoint) -> ConnectionError {
    connection_error(check_connection(endpoint).await.unwrap_err())
}

fn host_port(url: &str) -> &str {
    url.trim_start_matches("https://")
        .trim_start_matches("http://")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_not_trusted_and_the_sentence_says_what_to_do() {
    let s = sandbox(ServerProfile::V4, None).await;
    let cert = server_cert(&["127.0.0.1"], None, CURRENT);
    let dir = tempfile::tempdir().unwrap();
    let own_cert = write_pem(dir.path(), "server.pem", &cert.pem);
    let url = tls_proxy(&s.url(), cert).await;
    let e = refusal(&langfuse_at(&url, None)).await;
    assert!(
        matches!(e, ConnectionError::UntrustedCertificate(..)),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.contains(host_port(&url)), "names the host: {text}");
    assert!(text.contains("self-signed"), "{text}");
    assert!(text.contains("CA file"), "suggests the CA file: {text}");
    assert!(!text.contains(SECRET), "{text}");
    // Doing what the sentence says works: a self-signed certificate is its own authority.
    let info = check_connection(&langfuse_at(&url, Some(&own_cert))).await;
    assert!(info.is_ok(), "{info:?}");
}

/// The connection check's refusal of a certificate for `names`, valid in `years`, signed by a
/// private CA the client trusts (its CA file is given), so only the name or date can be wrong.
/// Returns the refusal and the server's address.
async fn refusal_with_a_trusted_ca(names: &[&str], years: (i32, i32)) -> (ConnectionError, String) {
    let s = sandbox(ServerProfile::V4, None).await;
    let ca = private_ca();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write_pem(dir.path(), "ca.pem", &ca.pem());
    let url = tls_proxy(&s.url(), server_cert(names, Some(&ca), years)).await;
    (refusal(&langfuse_at(&url, Some(&ca_file))).await, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_says_it_expired() {
    let (e, url) = refusal_with_a_trusted_ca(&["127.0.0.1"], (2019, 2021)).await;
    assert!(
        matches!(e, ConnectionError::ExpiredCertificate(..)),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.contains(host_port(&url)), "{text}");
    assert!(text.contains("expired"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_not_valid_yet_says_to_check_the_date() {
    let (e, url) = refusal_with_a_trusted_ca(&["127.0.0.1"], (2090, 2100)).await;
    assert!(
        matches!(e, ConnectionError::CertificateNotYetValid(..)),
        "{e:?}"
    );
    assert!(e.to_string().contains(host_port(&url)), "{e}");
    assert!(e.to_string().contains("not valid yet"), "{e}");
    assert!(e.to_string().contains("date and time"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_says_so() {
    let (e, url) = refusal_with_a_trusted_ca(&["langfuse.example.com"], CURRENT).await;
    assert!(
        matches!(e, ConnectionError::CertificateForOtherName(..)),
        "{e:?}"
    );
    assert!(e.to_string().contains(host_port(&url)), "{e}");
    assert!(e.to_string().contains("different host name"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_through_its_ca_file_and_a_copy_works() {
    let source = sandbox(ServerProfile::V4, Some((8, 30, 4))).await;
    let ca = private_ca();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write_pem(dir.path(), "company-ca.pem", &ca.pem());
    let url = tls_proxy(
        &source.url(),
        server_cert(&["127.0.0.1"], Some(&ca), CURRENT),
    )
    .await;

    // Without the CA file the private CA is unknown, like a self-signed certificate.
    let e = refusal(&langfuse_at(&url, None)).await;
    assert!(
        matches!(e, ConnectionError::UntrustedCertificate(..)),
        "{e:?}"
    );

    let info = check_connection(&langfuse_at(&url, Some(&ca_file)))
        .await
        .unwrap();
    assert_eq!(info.generation, Generation::V4);

    // The plan file names the CA file; the whole export reads through the TLS proxy.
    let text = format!(
        r#"
[source]
kind = "langfuse"
url = "{url}"
public_key = "pk-lf-sandbox"
secret_key_env = "UNUSED"
ca_file = "{ca}"
[target]
kind = "archive"
path = "{out}"
[scope]
entities = "all"
from = "2020-01-01T00:00:00Z"
to = "2030-01-01T00:00:00Z"
"#,
        ca = ca_file.display(),
        out = dir.path().join("export").display(),
    );
    let mut p = Plan::from_toml(&text).unwrap();
    if let EndpointSpec::Langfuse(l) = &mut p.source {
        l.secret_key = Some(SECRET.into());
    }
    let data = tempfile::tempdir().unwrap();
    let report = copy(p, data.path()).await;
    assert_eq!(report.failed_total(), 0, "{report:#?}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("export/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["complete"], true);
    for entity in ["observations", "scores", "datasets"] {
        assert_eq!(
            manifest["entities"][entity]["count"],
            source.counts()[entity],
            "{entity}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_that_is_missing_or_not_pem_is_named_in_the_sentence() {
    let s = sandbox(ServerProfile::V4, None).await;
    let url = tls_proxy(&s.url(), server_cert(&["127.0.0.1"], None, CURRENT)).await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-ca.pem");
    let e = refusal(&langfuse_at(&url, Some(&missing))).await;
    assert!(matches!(e, ConnectionError::CaFile(..)), "{e:?}");
    assert!(e.to_string().contains("no-such-ca.pem"), "{e}");
    assert!(e.to_string().contains("does not exist"), "{e}");

    let not_pem = write_pem(dir.path(), "notes.txt", "this is not a certificate\n");
    let e = refusal(&langfuse_at(&url, Some(&not_pem))).await;
    assert!(matches!(e, ConnectionError::CaFile(..)), "{e:?}");
    assert!(e.to_string().contains("notes.txt"), "{e}");
    assert!(e.to_string().contains("PEM"), "{e}");

    // PEM armour around something that is not a certificate.
    let broken = write_pem(
        dir.path(),
        "broken.pem",
        "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n",
    );
    let e = refusal(&langfuse_at(&url, Some(&broken))).await;
    assert!(matches!(e, ConnectionError::CaFile(..)), "{e:?}");
    assert!(e.to_string().contains("broken.pem"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_go_over_plain_http_to_another_host_only_when_confirmed() {
    // `.invalid` never resolves: a refusal before any request is PlainHttp, an attempt is
    // Unreachable.
    let mut far = LangfuseEndpoint::new("http://langfuse.invalid:3000", "pk-lf-x", SECRET);
    let e = refusal(&far).await;
    assert!(matches!(e, ConnectionError::PlainHttp(..)), "{e:?}");
    assert!(e.to_string().contains("unencrypted"), "{e}");
    assert!(!e.to_string().contains(SECRET), "{e}");
    far.allow_plain_http = true;
    let e = refusal(&far).await;
    assert!(matches!(e, ConnectionError::Unreachable(..)), "{e:?}");

    // Loopback needs no confirmation.
    let s = sandbox(ServerProfile::V4, None).await;
    let port = s.url().rsplit(':').next().unwrap().to_string();
    for host in ["127.0.0.1", "localhost"] {
        let info = check_connection(&langfuse_at(&format!("http://{host}:{port}"), None)).await;
        assert!(info.is_ok(), "{host}: {info:?}");
    }

    // A plan file refuses it too, unless that side says allow_plain_http = true.
    let plan_text = |extra: &str| {
        format!(
            r#"
[source]
kind = "langfuse"
url = "http://10.1.2.3:3000"
public_key = "pk"
secret_key_env = "X"
{extra}
[target]
kind = "archive"
path = "/tmp/out"
"#
        )
    };
    let e = Plan::from_toml(&plan_text("")).unwrap_err();
    assert!(e.to_string().contains("unencrypted"), "{e}");
    assert!(e.to_string().contains("allow_plain_http"), "{e}");
    Plan::from_toml(&plan_text("allow_plain_http = true")).unwrap();
}
