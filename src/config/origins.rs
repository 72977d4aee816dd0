//! The per-app WebSocket origin allow-list: which `Origin` headers may open a connection.
//!
//! A pattern is `scheme://host[:port]`; the host may start with `*.` to match any
//! subdomain (one or more labels, never the bare domain itself). `*` alone allows every
//! origin. Comparison ignores ASCII case and the scheme's default port, as browsers omit it.

/// Checks one pattern's shape at startup so a typo is reported instead of refusing everyone.
pub fn validate(pattern: &str) -> Result<(), String> {
    if pattern == "*" {
        return Ok(());
    }
    let (scheme, authority) = split(pattern).ok_or_else(|| {
        format!("{pattern:?} is not an origin: expected scheme://host[:port], like https://app.example.com")
    })?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return Err(format!("{pattern:?} has an invalid scheme"));
    }
    let host = authority.strip_prefix("*.").unwrap_or(authority);
    if host.is_empty() || host.contains(['/', '*', '?', '#', ' ']) {
        return Err(format!(
            "{pattern:?} is not an origin: a wildcard is allowed only as a leading \"*.\", and no path may follow the host"
        ));
    }
    Ok(())
}

/// Whether a browser's `Origin` header is allowed by the list. An empty list allows all.
pub fn allowed(patterns: &[String], origin: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| matches(p, origin))
}

fn matches(pattern: &str, origin: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let (Some((p_scheme, p_auth)), Some((o_scheme, o_auth))) = (split(pattern), split(origin))
    else {
        return false;
    };
    if !p_scheme.eq_ignore_ascii_case(o_scheme) {
        return false;
    }
    let p_auth = without_default_port(p_scheme, p_auth);
    let o_auth = without_default_port(o_scheme, o_auth);
    match p_auth.strip_prefix("*.") {
        // `*.example.com` needs at least one label before `.example.com`.
        Some(suffix) => {
            let suffix = format!(".{suffix}");
            o_auth.len() > suffix.len()
                && o_auth[o_auth.len() - suffix.len()..].eq_ignore_ascii_case(&suffix)
                && !o_auth[..o_auth.len() - suffix.len()].contains(':')
        }
        None => p_auth.eq_ignore_ascii_case(o_auth),
    }
}

/// `https://host:port` → (`https`, `host:port`); a trailing `/` is tolerated.
fn split(origin: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    Some((scheme, authority))
}

fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => return authority,
    };
    authority.strip_suffix(default).unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn empty_list_allows_all() {
        assert!(allowed(&[], "https://anything.test"));
    }

    #[test]
    fn exact_origin_ignoring_case_and_default_port() {
        let l = list(&["https://app.example.com"]);
        assert!(allowed(&l, "https://app.example.com"));
        assert!(allowed(&l, "HTTPS://App.Example.com"));
        assert!(allowed(&l, "https://app.example.com:443"));
        assert!(!allowed(&l, "http://app.example.com"));
        assert!(!allowed(&l, "https://app.example.com:8443"));
        assert!(!allowed(&l, "https://app.example.com.evil.test"));
        assert!(!allowed(&l, "null"));
    }

    #[test]
    fn wildcard_matches_subdomains_only() {
        let l = list(&["https://*.example.com"]);
        assert!(allowed(&l, "https://a.example.com"));
        assert!(allowed(&l, "https://a.b.example.com"));
        assert!(!allowed(&l, "https://example.com"));
        assert!(!allowed(&l, "https://evilexample.com"));
        assert!(!allowed(&l, "https://a.example.com:8443"));
        let with_port = list(&["http://*.example.com:8080"]);
        assert!(allowed(&with_port, "http://a.example.com:8080"));
        assert!(!allowed(&with_port, "http://a.example.com"));
    }

    #[test]
    fn star_allows_all_and_bad_patterns_are_named() {
        assert!(allowed(&list(&["*"]), "https://x.test"));
        assert!(validate("https://*.example.com").is_ok());
        assert!(validate("http://localhost:3000").is_ok());
        assert!(
            validate("app.example.com")
                .unwrap_err()
                .contains("scheme://host")
        );
        assert!(validate("https://app.*.com").is_err());
        assert!(validate("https://app.example.com/path").is_err());
    }
}
