//! The request path as nginx sees it when choosing a location: `%XX`
//! decoded, `//` merged, `.` and `..` segments resolved
//! (`ngx_http_parse_complex_uri`), and nginx's escaping of that path when
//! `proxy_pass` puts it back on the wire (`ngx_escape_uri`, `NGX_ESCAPE_URI`).

use std::borrow::Cow;

/// The normalized path, or `None` when `..` climbs above the root (nginx
/// answers 400).
pub fn normalize(path: &str) -> Option<Cow<'_, str>> {
    let clean = !path.contains('%')
        && !path.contains("//")
        && !path.split('/').any(|seg| seg == "." || seg == "..");
    if clean {
        return Some(Cow::Borrowed(path));
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                decoded.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let decoded = String::from_utf8_lossy(&decoded).into_owned();
    let mut segments: Vec<&str> = Vec::new();
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    for seg in decoded.split('/').skip(1) {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing || out.is_empty() {
        out.push('/');
    }
    Some(Cow::Owned(out))
}

/// nginx's `NGX_ESCAPE_URI`: control bytes, space, `#`, `%`, `?`, DEL and
/// non-ASCII bytes become `%XX`.
pub fn escape(path: &str) -> Cow<'_, str> {
    let needs = |b: u8| b <= 0x20 || matches!(b, b'#' | b'%' | b'?') || b >= 0x7f;
    if !path.bytes().any(needs) {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 8);
    for b in path.bytes() {
        if needs(b) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_nginx_parses_complex_uris() {
        assert_eq!(normalize("/a/b").unwrap(), "/a/b");
        assert_eq!(normalize("/api//double").unwrap(), "/api/double");
        assert_eq!(normalize("/api/./dot/../x").unwrap(), "/api/x");
        assert_eq!(normalize("/plain/../api/z").unwrap(), "/api/z");
        assert_eq!(normalize("/%70refix/a%2Fb").unwrap(), "/prefix/a/b");
        assert_eq!(normalize("/static/../").unwrap(), "/");
        assert_eq!(normalize("/a/..").unwrap(), "/");
        assert_eq!(normalize("/a/b/..").unwrap(), "/a/");
        assert!(normalize("/..").is_none());
        assert!(normalize("/a/../..").is_none());
        assert_eq!(normalize("/100%").unwrap(), "/100%");
    }

    #[test]
    fn escapes_what_nginx_escapes() {
        assert_eq!(escape("/v1/a b?#%é"), "/v1/a%20b%3F%23%25%C3%A9");
        assert_eq!(escape("/v1/a/b"), "/v1/a/b");
    }
}
