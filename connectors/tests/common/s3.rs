//! The S3 API server the tests use: moto_server on 127.0.0.1:4566 (started
//! by scripts/test.sh), or `SLUICE_TEST_S3`.

pub fn endpoint() -> String {
    std::env::var("SLUICE_TEST_S3").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// Creates `bucket` on moto (which does not check signatures).
pub fn create_bucket(bucket: &str) {
    let endpoint = endpoint();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let res = agent
        .put(&format!("{endpoint}/{bucket}"))
        .send_empty()
        .unwrap_or_else(|e| {
            panic!("moto_server answers at {endpoint} (scripts/test.sh starts it): {e}")
        });
    assert_eq!(res.status(), 200, "bucket {bucket} created");
}
