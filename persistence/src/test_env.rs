//! The external services a test needs (a MySQL server, a Redis server), found
//! through environment variables, and what a test does when one is missing.
//!
//! The policy, in one place so every test follows it:
//! - the variable is set (and not blank): the test gets its URL and runs;
//! - it is unset outside CI: the test prints which variable is missing and
//!   passes without running, so a developer without MySQL or Redis can still
//!   run the rest of the suite;
//! - it is unset under CI (`CI=true`): the test panics, naming the variable,
//!   because a CI run that passes by skipping proves nothing.

/// The MySQL or MariaDB server the MySQL tests run on, such as
/// `mysql://root@127.0.0.1:3306/test`; each test makes its own database there.
pub const MYSQL_URL: &str = "MYSQL_URL";

/// The Redis server the Redis baseline tests run on, such as
/// `redis://127.0.0.1:6379`; each test uses its own key prefix there.
pub const REDIS_URL: &str = "REDIS_URL";

/// The variable CI systems set to say a run is CI; `true` or `1` count.
pub const CI: &str = "CI";

/// The URL of the service `variable` names. `test` says which test or tests
/// need it, for the note and the panic. `None` means: return from the test now.
///
/// # Panics
/// When `variable` is unset or blank and [`CI`] is `true` or `1`; the panic
/// points at the caller, the test that needs the service.
#[track_caller]
pub fn service_url(variable: &str, test: &str) -> Option<String> {
    resolve(variable, std::env::var(variable).ok(), std::env::var(CI).ok(), test)
}

/// [`service_url`] on given values rather than the environment, so the policy
/// can be tested without changing the process's environment.
#[track_caller]
fn resolve(variable: &str, value: Option<String>, ci: Option<String>, test: &str) -> Option<String> {
    if let Some(url) = value.filter(|url| !url.trim().is_empty()) {
        return Some(url);
    }
    if ci.as_deref().is_some_and(is_ci) {
        panic!(
            "{test}: {variable} is not set, but {CI}={} says this is a CI run, where a test must not pass by \
             skipping. Start the service and set {variable} (.ci/run does both).",
            ci.as_deref().unwrap_or_default()
        );
    }
    eprintln!("{test}: {variable} is not set; skipping (set {variable} to run it; under {CI}=true this fails)");
    None
}

fn is_ci(value: &str) -> bool {
    value.eq_ignore_ascii_case("true") || value == "1"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    #[test]
    fn a_set_variable_gives_its_url_in_or_out_of_ci() {
        let url = "mysql://root@127.0.0.1:3306/test";
        assert_eq!(resolve(MYSQL_URL, set(url), None, "t").as_deref(), Some(url));
        assert_eq!(resolve(MYSQL_URL, set(url), set("true"), "t").as_deref(), Some(url));
    }

    #[test]
    fn outside_ci_a_missing_service_skips() {
        assert_eq!(resolve(REDIS_URL, None, None, "t"), None);
        assert_eq!(resolve(REDIS_URL, set("  "), None, "t"), None);
        assert_eq!(resolve(REDIS_URL, None, set("false"), "t"), None);
        assert_eq!(resolve(REDIS_URL, None, set(""), "t"), None);
    }

    #[test]
    #[should_panic(expected = "some_test: MYSQL_URL is not set, but CI=true")]
    fn under_ci_a_missing_service_fails() {
        resolve(MYSQL_URL, None, set("true"), "some_test");
    }

    #[test]
    #[should_panic(expected = "REDIS_URL is not set, but CI=1")]
    fn under_ci_a_blank_variable_fails_too() {
        resolve(REDIS_URL, set(""), set("1"), "t");
    }
}
