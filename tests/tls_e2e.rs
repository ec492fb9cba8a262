//! TLS (rustls): a server given a certificate and key serves only TLS, and a
//! client trusting that certificate calls it as usual.

use api::auth::Role;
use api::pb::admin_client::AdminClient;
use seat_tests::{Bearer, TestServer, token};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

const CA: &[u8] = include_bytes!("fixtures/tls-test-ca.crt");
const CERT: &[u8] = include_bytes!("fixtures/tls-test.crt");
const KEY: &[u8] = include_bytes!("fixtures/tls-test.key");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_trust_the_certificate_connect_and_plaintext_does_not() {
    let server = TestServer::start_tls(Identity::from_pem(CERT, KEY)).await;
    let port = server.addr.port();
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(CA)).domain_name("localhost");
    let channel = Channel::from_shared(format!("https://localhost:{port}")).unwrap().tls_config(tls).unwrap();
    let channel = channel.connect().await.expect("TLS handshake with the test certificate");
    let mut admin = AdminClient::with_interceptor(channel, Bearer::new(&token(Role::Admin, "ops")));
    let stats = admin.stats(api::pb::StatsRequest {}).await.expect("stats over TLS").into_inner();
    assert_eq!(stats.trains, 12);

    let plaintext = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap().connect().await;
    if let Ok(channel) = plaintext {
        let mut admin = AdminClient::with_interceptor(channel, Bearer::new(&token(Role::Admin, "ops")));
        assert!(admin.stats(api::pb::StatsRequest {}).await.is_err(), "plaintext gets no answer from a TLS server");
    }
    server.stop().await;
}
