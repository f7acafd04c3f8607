//! What the nginx reader does with directives it does not translate:
//! accept quietly (no effect on what a client sees), refuse (ignoring them
//! would change security or routing), or warn once and ignore.

/// Directives whose absence changes nothing a client or backend can see
/// here (process management, buffers, disk paths, types of static files).
const QUIET: &[&str] = &[
    "daemon",
    "master_process",
    "events",
    "worker_connections",
    "multi_accept",
    "use",
    "accept_mutex",
    "zone",
    "client_body_temp_path",
    "proxy_temp_path",
    "fastcgi_temp_path",
    "uwsgi_temp_path",
    "scgi_temp_path",
    "types",
    "default_type",
    "types_hash_max_size",
    "server_names_hash_bucket_size",
    "server_names_hash_max_size",
    "map_hash_bucket_size",
    "map_hash_max_size",
    "variables_hash_max_size",
    "sendfile",
    "tcp_nopush",
    "tcp_nodelay",
    "proxy_buffering",
    "proxy_request_buffering",
    "proxy_buffer_size",
    "proxy_buffers",
    "proxy_busy_buffers_size",
    "check_shm_size",
    "check_keepalive_requests",
    "volatile",
];

/// Directives the edge cannot honour and must not ignore: access control,
/// rewriting and file serving.
const REFUSED: &[(&str, &str)] = &[
    ("allow", "access control"),
    ("deny", "access control"),
    ("satisfy", "access control"),
    ("auth_basic", "authentication"),
    ("auth_basic_user_file", "authentication"),
    ("auth_request", "authentication"),
    ("auth_jwt", "authentication"),
    ("limit_except", "access control"),
    ("limit_req", "rate limiting"),
    ("limit_conn", "connection limiting"),
    ("rewrite", "URI rewriting"),
    ("if", "conditional routing"),
    ("try_files", "file serving"),
    ("root", "file serving"),
    ("alias", "file serving"),
    ("index", "file serving"),
    ("autoindex", "file serving"),
    ("internal", "internal-only locations"),
    ("error_page", "error pages and internal redirects"),
    ("stream", "TCP/UDP proxying"),
    ("mail", "mail proxying"),
    ("fastcgi_pass", "FastCGI"),
    ("uwsgi_pass", "uwsgi"),
    ("grpc_pass", "gRPC"),
];

/// What to do with a directive the translator has no rule for.
pub enum Verdict {
    /// Accept without a word.
    Quiet,
    /// An error, with the feature it would need.
    Refuse(&'static str),
    /// Warn once that it is ignored.
    Warn,
}

/// The verdict for directive `name`.
pub fn verdict(name: &str) -> Verdict {
    if QUIET.contains(&name) {
        Verdict::Quiet
    } else if let Some((_, what)) = REFUSED.iter().find(|(n, _)| *n == name) {
        Verdict::Refuse(what)
    } else {
        Verdict::Warn
    }
}
