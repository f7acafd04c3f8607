//! The edge's HTTP/1 readers against independent reference readers, over
//! a million generated inputs fed in random pieces.
//!
//! Why: `http1::request` and `http1::chunked` are the edge's security
//! boundary, and they are incremental state machines; a reader that agrees
//! with itself can still disagree with the rules. Each reference here is a
//! second reading of the same rules written the other way round: whole
//! input at once, line by line, with slices and splits instead of states.
//! For every input, cut at random points into reads:
//! - chunked bodies: the scanner accepts exactly when the reference does,
//!   ends at the same byte, yields the same payload, and while the input
//!   is incomplete neither fails nor finishes early;
//! - request heads: the parser gives the same verdict (the status nginx
//!   answers with), the same method, target, version, kept fields and body
//!   framing, and leaves the same bytes for the next request.
//!
//! Inputs are generated from realistic messages and then mutated (bytes
//! flipped, inserted, deleted, line ends swapped), plus byte soup from the
//! alphabet that matters to framing. 500,000 cases each in release mode
//! (`cargo test --release --test http1_reference`, ~15 s on two cores);
//! `PROPTEST_RNG_SEED` replays a run.

use bytes::BytesMut;
use openclaw_edge::http1::chunked::{Chunked, MAX_EXT, MAX_SIZE_DIGITS, MAX_TRAILER};
use openclaw_edge::http1::{Framing, HeadLimits, RequestHead};
use proptest::prelude::*;
use proptest::sample::select;

const CHUNKED_CASES: u32 = 500_000;
const HEAD_CASES: u32 = 500_000;

// ---------------------------------------------------------------------------
// The reference chunked reader: the whole body at once, line by line.
// ---------------------------------------------------------------------------

/// What the reference makes of a whole input.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// The body ends after this many bytes, with this payload.
    Ends(usize, Vec<u8>),
    /// Broken.
    Invalid,
    /// Fine so far; more bytes are needed.
    Incomplete,
}

fn tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The next CRLF-terminated line at `at`: `Some(Ok((line, next)))`, or
/// `Some(Err(()))` for a bare LF or CR, `None` when no line end arrived yet.
fn crlf_line(input: &[u8], at: usize) -> Option<Result<(&[u8], usize), ()>> {
    let rest = &input[at..];
    let lf = rest.iter().position(|b| *b == b'\n')?;
    let line = &rest[..lf];
    match line.split_last() {
        Some((b'\r', body)) if !body.contains(&b'\r') => Some(Ok((body, at + lf + 1))),
        _ => Some(Err(())),
    }
}

/// Whether `ext` (everything after the size digits) is `*( BWS ";" BWS
/// token [ BWS "=" BWS ( token / quoted-string ) ] )`.
fn valid_extensions(ext: &[u8]) -> bool {
    let ws = |s: &[u8]| s.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    let mut s = ext;
    while !s.is_empty() {
        s = &s[ws(s)..];
        let Some(rest) = s.strip_prefix(b";") else {
            return false;
        };
        s = &rest[ws(rest)..];
        let name = s.iter().take_while(|b| tchar(**b)).count();
        if name == 0 {
            return false;
        }
        s = &s[name..];
        let after = ws(s);
        if s[after..].first() == Some(&b'=') {
            s = &s[after + 1..];
            s = &s[ws(s)..];
            if s.first() == Some(&b'"') {
                let mut i = 1;
                loop {
                    match s.get(i) {
                        None => return false,
                        Some(b'"') => break,
                        Some(b'\\') => match s.get(i + 1) {
                            Some(&c) if c == b'\t' || (c >= 0x20 && c != 0x7f) => i += 2,
                            _ => return false,
                        },
                        Some(&c) if c == b'\t' || (c >= 0x20 && c != 0x7f) => i += 1,
                        Some(_) => return false,
                    }
                }
                s = &s[i + 1..];
            } else {
                let v = s.iter().take_while(|b| tchar(**b)).count();
                if v == 0 {
                    return false;
                }
                s = &s[v..];
            }
            // Whitespace after a value only before another `;`.
            let w = ws(s);
            if w > 0 && w == s.len() {
                return false;
            }
            s = &s[w..];
        } else if after < s.len() && s[after] != b';' {
            return false;
        } else if after == s.len() && after > 0 {
            // Whitespace only after a name must lead to `;` or `=`.
            return false;
        }
    }
    true
}

fn reference_chunked(input: &[u8]) -> Verdict {
    let mut at = 0;
    let mut payload = Vec::new();
    loop {
        // A size line, judged on what has arrived even before its LF.
        let rest = &input[at..];
        let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits > MAX_SIZE_DIGITS as usize {
            return Verdict::Invalid;
        }
        let line_end = rest.iter().position(|b| *b == b'\n');
        let seen = &rest[..line_end.unwrap_or(rest.len())];
        let ext_part = &seen[digits.min(seen.len())..];
        let ext = ext_part.strip_suffix(b"\r").unwrap_or(ext_part);
        if ext.len() > MAX_EXT as usize {
            return Verdict::Invalid;
        }
        let Some(line) = crlf_line(input, at) else {
            // Incomplete: valid so far only if what is there can still grow
            // into a valid line.
            if digits == 0 && !rest.is_empty() {
                return Verdict::Invalid;
            }
            if !could_grow(ext_part) {
                return Verdict::Invalid;
            }
            return Verdict::Incomplete;
        };
        let Ok((line, next)) = line else {
            return Verdict::Invalid;
        };
        if digits == 0 || !valid_extensions(&line[digits..]) {
            return Verdict::Invalid;
        }
        let size = u64::from_str_radix(std::str::from_utf8(&line[..digits]).unwrap(), 16).unwrap();
        at = next;
        if size == 0 {
            break;
        }
        let size = size as usize;
        if input.len() - at < size {
            return Verdict::Incomplete;
        }
        payload.extend_from_slice(&input[at..at + size]);
        at += size;
        match input.get(at..at + 2) {
            Some(b"\r\n") => at += 2,
            None if input[at..] == *b"\r" || at == input.len() => return Verdict::Incomplete,
            _ => return Verdict::Invalid,
        }
    }
    // Trailer section: field lines, then an empty line.
    let start = at;
    loop {
        let line = crlf_line(input, at);
        let used = match line {
            Some(Ok((_, next))) => next - start,
            _ => input.len() - start,
        };
        let Some(line) = line else {
            let partial = &input[at..];
            let ok_so_far = match partial {
                [] | [b'\r'] => true,
                p => trailer_prefix_ok(p),
            };
            if !ok_so_far || used > MAX_TRAILER as usize {
                return Verdict::Invalid;
            }
            return Verdict::Incomplete;
        };
        let Ok((line, next)) = line else {
            return Verdict::Invalid;
        };
        if line.is_empty() {
            // The final CRLF is not counted against the limit.
            if next - start - 2 > MAX_TRAILER as usize {
                return Verdict::Invalid;
            }
            return Verdict::Ends(next, payload);
        }
        if used > MAX_TRAILER as usize || !trailer_field(line) {
            return Verdict::Invalid;
        }
        at = next;
    }
}

/// Whether a trailer field line `name: value` is well-formed.
fn trailer_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|b| *b == b':') else {
        return false;
    };
    colon > 0
        && line[..colon].iter().all(|b| tchar(*b))
        && line[colon + 1..]
            .iter()
            .all(|b| *b == b'\t' || (*b >= 0x20 && *b != 0x7f))
}

/// Whether an unfinished trailer line can still become a field line.
fn trailer_prefix_ok(p: &[u8]) -> bool {
    let body = p.strip_suffix(b"\r").unwrap_or(p);
    if body.contains(&b'\r') {
        return false;
    }
    match body.iter().position(|b| *b == b':') {
        None => body.iter().all(|b| tchar(*b)) && (p.last() != Some(&b'\r') || body.is_empty()),
        Some(_) => trailer_field(body) && (p.last() != Some(&b'\r') || !body.is_empty()),
    }
}

/// Whether the extension text seen so far (no LF yet) can still become a
/// valid size line: it must be a prefix of a valid extension list, with at
/// most a final CR.
fn could_grow(ext: &[u8]) -> bool {
    if let Some(body) = ext.strip_suffix(b"\r") {
        return !body.contains(&b'\r') && valid_extensions(body);
    }
    if ext.contains(&b'\r') {
        return false;
    }
    // Some completion of `ext` must be valid: try the few endings that
    // close any open construct.
    [&b""[..], b"a", b"=a", b"\"", b"a\"", b"\\a\"", b";a"]
        .iter()
        .any(|tail| valid_extensions(&[ext, tail].concat()))
}

/// The edge's scanner fed `input` in the pieces `cuts` makes.
fn scanner(input: &[u8], cuts: &[usize]) -> Verdict {
    let (mut c, mut payload, mut pos, mut k) = (Chunked::default(), Vec::new(), 0, 0);
    while pos < input.len() && !c.done() {
        let end = (pos + cuts[k % cuts.len()]).min(input.len());
        match c.scan(&input[pos..end], Some(&mut payload)) {
            Ok(n) => pos += n,
            Err(_) => return Verdict::Invalid,
        }
        k += 1;
    }
    if c.done() {
        Verdict::Ends(pos, payload)
    } else {
        Verdict::Incomplete
    }
}

/// A realistic chunked body with a request after it.
fn chunked_body() -> impl Strategy<Value = Vec<u8>> {
    let ext = select(vec![
        "",
        "",
        ";a",
        ";a=b",
        " ;a=\"x y\"",
        ";a=\"q\\\"\"",
        "; a = b",
        ";a=b;c",
        ";",
        " ",
        ";a=",
        "\t;x",
    ]);
    let trailer = select(vec![
        "",
        "",
        "X-T: 1\r\n",
        "A: b\r\nC:\r\n",
        "Bad Name: 1\r\n",
        "X: \t v\r\n",
    ]);
    (
        proptest::collection::vec((1usize..40, ext), 0..5),
        any::<bool>(),
        trailer,
    )
        .prop_map(|(chunks, upper, trailer)| {
            let mut b = Vec::new();
            for (n, ext) in chunks {
                let size = if upper {
                    format!("{n:X}")
                } else {
                    format!("{n:x}")
                };
                b.extend_from_slice(format!("{size}{ext}\r\n").as_bytes());
                b.extend((0..n).map(|i| b"abc\r\n0;"[i % 7]));
                b.extend_from_slice(b"\r\n");
            }
            b.extend_from_slice(format!("0\r\n{trailer}\r\nGET /next HTTP/1.1\r\n").as_bytes());
            b
        })
}

/// `body` with a few bytes flipped, inserted or deleted.
fn mutate(body: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = body.len().max(1);
    let edit = (
        0..len,
        0u8..4,
        select(b"\r\n;= \t\"\\0aF:\x00\x7f".to_vec()),
    );
    proptest::collection::vec(edit, 0..4).prop_map(move |edits| {
        let mut b = body.clone();
        for (at, op, byte) in edits {
            let at = at.min(b.len());
            match op {
                0 if at < b.len() => b[at] = byte,
                1 => b.insert(at, byte),
                2 if at < b.len() => {
                    b.remove(at);
                }
                _ => {}
            }
        }
        b
    })
}

fn chunked_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => chunked_body().prop_flat_map(mutate),
        1 => chunked_body(),
        1 => proptest::collection::vec(select(b"0123456789aAfF;= \t\"\\\r\nxX:".to_vec()), 0..60),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CHUNKED_CASES, failure_persistence: None, ..ProptestConfig::default() })]

    /// The scanner and the reference agree on every input, however cut.
    #[test]
    fn chunked_scanner_agrees_with_the_reference(
        input in chunked_input(),
        cuts in proptest::collection::vec(1usize..12, 1..6),
    ) {
        prop_assert_eq!(scanner(&input, &cuts), reference_chunked(&input), "input {:?}", String::from_utf8_lossy(&input));
    }
}

#[test]
fn the_chunked_reference_reads_the_rules() {
    assert_eq!(
        reference_chunked(b"5;a=b\r\nhello\r\n0\r\nX: 1\r\n\r\nGET"),
        Verdict::Ends(25, b"hello".to_vec())
    );
    assert_eq!(reference_chunked(b"5\nhello\r\n"), Verdict::Invalid);
    assert_eq!(reference_chunked(b"5 zz\r\n"), Verdict::Invalid);
    assert_eq!(reference_chunked(b"5;a=\"x"), Verdict::Incomplete);
    assert_eq!(reference_chunked(b"0\r\nX: 1\r\n"), Verdict::Incomplete);
}

// ---------------------------------------------------------------------------
// The reference request-head reader: nginx's rules, line by line.
// ---------------------------------------------------------------------------

/// What a head reader made of an input.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// Refused with this status.
    Refused(u16),
    /// Not complete yet.
    Waiting,
    /// Read: method, target, minor version, kept fields, framing, bytes left.
    Read(String, String, u8, Vec<(String, Vec<u8>)>, Framing, Vec<u8>),
}

fn reference_head(input: &[u8], limits: &HeadLimits) -> Head {
    let start = input
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    let input = &input[start..];
    // Split into LF-terminated lines; the head ends at the first empty one.
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    let mut end = None;
    while let Some(lf) = input[at..].iter().position(|b| *b == b'\n') {
        let raw = &input[at..at + lf];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        at += lf + 1;
        if line.is_empty() && !lines.is_empty() {
            end = Some(at);
            break;
        }
        lines.push(line);
    }
    // The request line is judged as soon as it is complete, then every
    // other line is held to the line limit as soon as it is there (a
    // partial one without a CR that may still precede its LF).
    let mut request = None;
    for (i, line) in lines.iter().enumerate() {
        if line.len() >= limits.line {
            return Head::Refused(if i == 0 { 414 } else { 400 });
        }
        if i == 0 {
            match reference_request_line(line) {
                Ok(r) => request = Some(r),
                Err(status) => return Head::Refused(status),
            }
        }
    }
    if end.is_some_and(|e| e > limits.total) {
        return Head::Refused(400);
    }
    let Some(end) = end else {
        let tail = &input[at..];
        let tail = tail.strip_suffix(b"\r").unwrap_or(tail);
        if tail.len() >= limits.line {
            return Head::Refused(if lines.is_empty() { 414 } else { 400 });
        }
        if input.len() > limits.total {
            return Head::Refused(400);
        }
        return Head::Waiting;
    };
    let (method, target, minor) = request.expect("a complete head has a request line");
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    let mut hosts = 0;
    for line in &lines[1..] {
        let (name, value) = match line.iter().position(|b| *b == b':') {
            Some(c) => (&line[..c], &line[c + 1..]),
            None => (&line[..], &b""[..]),
        };
        if name.is_empty() || name.iter().any(|b| *b <= 0x20 || *b == 0x7f) {
            return Head::Refused(400);
        }
        let value = {
            let s = value.iter().take_while(|b| **b == b' ').count();
            let v = &value[s..];
            let e = v.iter().rev().take_while(|b| **b == b' ').count();
            &v[..v.len() - e]
        };
        if value.contains(&0) || value.contains(&b'\r') {
            return Head::Refused(400);
        }
        let kept = name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || (*b == b'_' && limits.underscores));
        if !kept {
            continue;
        }
        let lname = String::from_utf8(name.to_vec())
            .unwrap()
            .to_ascii_lowercase();
        if lname == "host" {
            hosts += 1;
            if hosts > 1 || !host_ok(value) {
                return Head::Refused(400);
            }
        }
        if (lname == "content-length" || lname == "transfer-encoding")
            && fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(&lname))
        {
            return Head::Refused(400);
        }
        fields.push((String::from_utf8(name.to_vec()).unwrap(), value.to_vec()));
    }
    let get = |n: &str| {
        fields
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    if minor == 1 && get("host").is_none() {
        return Head::Refused(400);
    }
    let length = match get("content-length") {
        Some(v) => match std::str::from_utf8(&v)
            .ok()
            .filter(|s| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
        {
            Some(n) => Some(n),
            None => return Head::Refused(400),
        },
        None => None,
    };
    let framing = match get("transfer-encoding") {
        Some(_) if minor == 0 => return Head::Refused(400),
        Some(te) if te.eq_ignore_ascii_case(b"chunked") && length.is_some() => {
            return Head::Refused(400)
        }
        Some(te) if te.eq_ignore_ascii_case(b"chunked") => Framing::Chunked,
        Some(_) => return Head::Refused(501),
        None => length.map_or(Framing::Empty, Framing::Length),
    };
    if method == b"CONNECT" || method == b"TRACE" {
        return Head::Refused(405);
    }
    Head::Read(
        String::from_utf8(method).unwrap(),
        String::from_utf8(target).unwrap(),
        minor,
        fields,
        framing,
        input[end..].to_vec(),
    )
}

/// The reference's reading of a request line: method, target, minor
/// version, or the status nginx refuses it with.
fn reference_request_line(line: &[u8]) -> Result<(Vec<u8>, Vec<u8>, u8), u16> {
    let request_line = line;
    let words: Vec<&[u8]> = request_line
        .split(|b| *b == b' ')
        .filter(|w| !w.is_empty())
        .collect();
    let method_ok = request_line
        .iter()
        .position(|b| *b == b' ')
        .is_some_and(|sp| {
            sp > 0
                && request_line[..sp]
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || *b == b'_' || *b == b'-')
        });
    if !method_ok {
        return Err(400);
    }
    let (method, target) = (words[0], words.get(1).copied().unwrap_or(b""));
    if target.is_empty()
        || target.iter().any(|b| *b < 0x20 || *b == 0x7f)
        || std::str::from_utf8(target).is_err()
    {
        return Err(400);
    }
    if target[0] != b'/' {
        let t = std::str::from_utf8(target).unwrap();
        let Some((scheme, rest)) = t.split_once("://") else {
            return Err(400);
        };
        let scheme_ok = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme_ok || scheme.contains(':') {
            return Err(400);
        }
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if !host_ok(authority.as_bytes()) {
            return Err(400);
        }
    }
    if words.len() != 3 {
        return Err(400);
    }
    let minor = match std::str::from_utf8(words[2])
        .ok()
        .and_then(|v| v.strip_prefix("HTTP/"))
        .and_then(|v| v.split_once('.'))
    {
        Some((ma, mi))
            if !ma.is_empty()
                && ma.len() <= 2
                && !mi.is_empty()
                && mi.len() <= 2
                && ma.bytes().chain(mi.bytes()).all(|b| b.is_ascii_digit())
                && !ma.starts_with('0') =>
        {
            if ma != "1" {
                return Err(505);
            }
            u8::from(mi.parse::<u8>().unwrap() > 0)
        }
        _ => return Err(400),
    };
    Ok((method.to_vec(), target.to_vec(), minor))
}

/// nginx's host rules, restated: no `/`, no byte <= 0x20 or DEL, no empty
/// label, something left without the port and a final dot.
fn host_ok(h: &[u8]) -> bool {
    if h.contains(&b'/') || h.iter().any(|b| *b <= 0x20 || *b == 0x7f) {
        return false;
    }
    let host = if h.first() == Some(&b'[') {
        match h.iter().position(|b| *b == b']') {
            Some(i) => &h[..=i],
            None => h.split(|b| *b == b':').next().unwrap_or(h),
        }
    } else {
        h.split(|b| *b == b':').next().unwrap_or(h)
    };
    if h.windows(2).any(|w| w == b"..") {
        return false;
    }
    let host = host.strip_suffix(b".").unwrap_or(host);
    !host.is_empty()
}

/// The edge's parser fed `input` in pieces.
fn parser(input: &[u8], cuts: &[usize], limits: &HeadLimits) -> Head {
    let (mut buf, mut scanned, mut pos, mut k) = (BytesMut::new(), 0, 0, 0);
    loop {
        let end = (pos + cuts[k % cuts.len()]).min(input.len());
        buf.extend_from_slice(&input[pos..end]);
        pos = end;
        k += 1;
        match RequestHead::parse(&mut buf, limits, &mut scanned) {
            Err(e) => return Head::Refused(e.reject.status()),
            Ok(Some(h)) => {
                buf.extend_from_slice(&input[pos..]);
                let fields = h
                    .fields
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_vec()))
                    .collect();
                return Head::Read(
                    h.method().into(),
                    h.target().into(),
                    h.minor,
                    fields,
                    h.framing(),
                    buf.to_vec(),
                );
            }
            Ok(None) if pos == input.len() => return Head::Waiting,
            Ok(None) => {}
        }
    }
}

fn request() -> impl Strategy<Value = Vec<u8>> {
    let line = select(vec![
        "GET / HTTP/1.1",
        "POST /a?b=c HTTP/1.1",
        "GET  /x  HTTP/1.0 ",
        "get / HTTP/1.1",
        "GET / HTTP/1.2",
        "GET / HTTP/2.0",
        "GET /",
        "GET http://h.example/p HTTP/1.1",
        "CONNECT h:443 HTTP/1.1",
        "TRACE / HTTP/1.1",
        "GET / http/1.1",
        "GET /\x01 HTTP/1.1",
        "FOO_BAR /q HTTP/1.1",
        "GET * HTTP/1.1",
        "GET / HTTP/1.01",
    ]);
    let field = select(vec![
        "Host: a.example",
        "Host: a.example",
        "Host: local host",
        "Host: a..b",
        "Host: [::1]:80",
        "Host: a.",
        "Host:",
        "Content-Length: 5",
        "Content-Length: +5",
        "Content-Length: 5, 5",
        "Content-Length: 05",
        "Transfer-Encoding: chunked",
        "Transfer-Encoding: Chunked ",
        "Transfer-Encoding:\tchunked",
        "Transfer-Encoding: gzip, chunked",
        "X_Under: 1",
        "X@Y: 1",
        "X : 1",
        " folded",
        "NoColon",
        ": empty",
        "X-V: a\x01b",
        "Connection: close",
        "Upgrade: websocket",
        "Connection: upgrade",
        "X-A:  b  ",
    ]);
    let eol = select(vec!["\r\n", "\r\n", "\r\n", "\n"]);
    (
        line,
        proptest::collection::vec((field, eol.clone()), 0..6),
        eol,
        select(vec!["", "hello", "GET / HTTP/1.1\r\n\r\n"]),
    )
        .prop_map(|(line, fields, end, rest)| {
            let mut r = format!("{line}\r\n");
            for (f, e) in fields {
                r.push_str(f);
                r.push_str(e);
            }
            r.push_str(end);
            r.push_str(rest);
            r.into_bytes()
        })
}

fn head_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => request(),
        2 => request().prop_flat_map(mutate),
        1 => proptest::collection::vec(select(b"GET /HTP1.\r\n :hostxXcl-_\t\x00".to_vec()), 0..50),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: HEAD_CASES, failure_persistence: None, ..ProptestConfig::default() })]

    /// The head parser and the reference agree on every input, however cut.
    #[test]
    fn head_parser_agrees_with_the_reference(
        input in head_input(),
        cuts in proptest::collection::vec(1usize..16, 1..6),
        small in any::<bool>(),
    ) {
        // Small limits bring the size rules into reach of short inputs.
        let limits = if small {
            HeadLimits { line: 24, total: 64, underscores: false }
        } else {
            HeadLimits::default()
        };
        prop_assert_eq!(parser(&input, &cuts, &limits), reference_head(&input, &limits), "input {:?}", String::from_utf8_lossy(&input));
    }
}
