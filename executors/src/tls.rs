//! TLS for the HTTP clients (`http` functions, HTTP Tasks): rustls with the
//! `ring` provider, installed once for the process, and the machine's root
//! certificates (reqwest's platform verifier). `ring` rather than reqwest's
//! default aws-lc-rs: the workspace already builds it, and it needs no cmake.

use std::sync::Once;

/// Make `ring` the process's rustls provider (a no-op after the first call,
/// or when another part of the process installed one already).
pub fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
