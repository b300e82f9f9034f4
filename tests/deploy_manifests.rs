//! deploy/ must describe the service as it is. The validators in deploy/validate.sh check that
//! each file is well-formed for its tool; these tests check that the files agree with the
//! service: every variable is a real setting and each deployment, assembled the way its tool
//! would assemble it, is a configuration the service accepts; ports are the listener's port;
//! probe and proxy paths are served by the real router; and the commands (serve, healthcheck)
//! are the binary's real subcommands, run for real.

mod common;

use serde::Deserialize;
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use zoom_sso_revoker::config::{Config, ConfigArgs};

type Env = BTreeMap<String, String>;

/// Settings that SPEC §8 names and that other work adds; deploy/ mentions them only in comments
/// ("where your version has them"), never as a live setting.
const PLANNED: &[&str] = &["ADMIN_TOKEN", "METRICS_ADDR", "RETENTION_DAYS"];

/// Where the Dockerfile installs the binary; systemd's ExecStart uses the same path.
const BIN_PATH: &str = "/usr/local/bin/zoom-sso-revoker";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml_docs(rel: &str) -> Vec<Value> {
    let text = read(rel);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{rel}: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

fn files_under(rel: &str, ext: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![repo().join(rel)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if ext.iter().any(|e| path.to_string_lossy().ends_with(e)) {
                out.push(path.strip_prefix(repo()).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence().map(|seq| seq.iter().map(s).collect()).unwrap_or_default()
}

fn default_port() -> u16 {
    ConfigArgs::from_vars::<&str, &str>(&[]).expect("defaults parse").listen_addr.port()
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {addr:?}"))
}

/// `KEY=value` lines of an env file (comments and blanks skipped).
fn env_file(rel: &str) -> Env {
    read(rel)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("{rel}: {l:?} is not KEY=value"));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// Source-setting suffixes (`SECRET`, `EMAIL_POINTER`, ...) documented in .env.example, found
/// from the `WEBHOOK_<NAME>_*` lines of the sources it names, commented or not.
fn documented_webhook_suffixes() -> BTreeSet<String> {
    let example = read(".env.example");
    let names: Vec<String> = example
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.strip_prefix("WEBHOOK_SOURCES="))
        .flat_map(|v| v.split(',').map(|n| n.trim().to_ascii_uppercase().replace('-', "_")).collect::<Vec<_>>())
        .filter(|n| !n.is_empty())
        .collect();
    let mut suffixes = BTreeSet::new();
    for line in example.lines().map(|l| l.trim_start_matches('#').trim()) {
        let Some((key, _)) = line.split_once('=') else { continue };
        for n in &names {
            if let Some(suffix) = key.strip_prefix(&format!("WEBHOOK_{n}_")) {
                suffixes.insert(suffix.to_string());
            }
        }
    }
    assert!(suffixes.contains("SECRET") && suffixes.contains("PROVIDER"), ".env.example documents no source settings");
    suffixes
}

/// Why `name` is not a setting of the service, given the sources this deployment declares.
fn not_a_setting(name: &str, sources: &[String], suffixes: &BTreeSet<String>) -> Option<String> {
    if name == "RUST_LOG" || ConfigArgs::env_names().iter().any(|n| n == name) {
        return None;
    }
    if name.starts_with("WEBHOOK_") {
        let hit = sources
            .iter()
            .find_map(|src| name.strip_prefix(&format!("WEBHOOK_{}_", src.to_ascii_uppercase().replace('-', "_"))));
        return match hit {
            Some(suffix) if suffixes.contains(suffix) => None,
            Some(suffix) => Some(format!("{name}: {suffix} is not a source setting documented in .env.example")),
            None => Some(format!("{name}: its source is not in WEBHOOK_SOURCES ({sources:?})")),
        };
    }
    Some(format!("{name} is not a setting (ConfigArgs::env_names() or RUST_LOG)"))
}

/// Checks every name, fills in what the operator is told to fill in, and builds the service's
/// configuration exactly as `serve` would.
fn assemble(label: &str, env: &Env) -> Config {
    let sources: Vec<String> = env
        .get("WEBHOOK_SOURCES")
        .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let suffixes = documented_webhook_suffixes();
    let errors: Vec<String> = env.keys().filter_map(|k| not_a_setting(k, &sources, &suffixes)).collect();
    assert!(errors.is_empty(), "{label}: {errors:#?}");

    let mut args = Vec::new();
    let mut per_source = std::collections::HashMap::new();
    for (k, v) in env {
        // The empty values are the ones the README says to fill in.
        let v = match (k.as_str(), v.is_empty()) {
            ("DATABASE_URL", true) => "postgres://revoker:filled-in@db:5432/revoker".to_string(),
            (k, true) if k.starts_with("ZOOM_") || k.ends_with("_SECRET") => "filled-in-by-operator".to_string(),
            _ => v.clone(),
        };
        match k.as_str() {
            "RUST_LOG" => {}
            k if k.starts_with("WEBHOOK_") && k != "WEBHOOK_SOURCES" => {
                per_source.insert(k.to_string(), v);
            }
            _ => args.push((k.clone(), v)),
        }
    }
    let args = ConfigArgs::from_vars(&args).unwrap_or_else(|e| panic!("{label}: {e}"));
    Config::from_args(&args, &per_source).unwrap_or_else(|e| panic!("{label}: configuration error: {e}"))
}

// --- Dockerfile -----------------------------------------------------------------------------

#[derive(Default)]
struct Image {
    env: Env,
    expose: Vec<u16>,
    healthcheck: Vec<String>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    copy_dests: Vec<String>,
}

/// The final stage of deploy/docker/Dockerfile.
fn image() -> Image {
    let text = read("deploy/docker/Dockerfile");
    let mut logical = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && cur.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => cur.push_str(&format!("{} ", part.trim())),
            None => {
                cur.push_str(t);
                logical.push(std::mem::take(&mut cur));
            }
        }
    }
    let exec_form = |rest: &str| -> Vec<String> {
        serde_json::from_str(rest.trim())
            .unwrap_or_else(|e| panic!("Dockerfile: {rest:?} is not an exec-form array: {e}"))
    };
    let mut img = Image::default();
    for l in logical {
        let (instr, rest) = l.split_once(char::is_whitespace).unwrap_or((&l, ""));
        match instr.to_ascii_uppercase().as_str() {
            "FROM" => img = Image::default(),
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) =
                        pair.split_once('=').unwrap_or_else(|| panic!("Dockerfile: ENV {pair:?} is not KEY=value"));
                    img.env.insert(k.to_string(), v.to_string());
                }
            }
            "EXPOSE" => {
                img.expose = rest.split_whitespace().map(|p| p.trim_end_matches("/tcp").parse().unwrap()).collect()
            }
            "HEALTHCHECK" => {
                let (_, cmd) = rest.split_once("CMD").expect("HEALTHCHECK ... CMD [...]");
                img.healthcheck = exec_form(cmd);
            }
            "ENTRYPOINT" => img.entrypoint = exec_form(rest),
            "CMD" => img.cmd = exec_form(rest),
            "COPY" => img.copy_dests.push(rest.split_whitespace().last().unwrap().to_string()),
            _ => {}
        }
    }
    img
}

// --- compose --------------------------------------------------------------------------------

struct ComposeService {
    label: String,
    env: Env,
    command: Vec<String>,
    container_ports: Vec<u16>,
}

/// Compose's `${VAR}`, `${VAR:?message}`, `${VAR:-default}`: the value an operator supplies.
fn interpolate(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map(|e| start + e).unwrap_or_else(|| panic!("unclosed ${{ in {v:?}"));
        out.push_str("operatorvalue");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Our services (built from deploy/docker/Dockerfile) of every compose file, with the
/// environment compose would give them: image ENV < env_file < environment.
fn compose_services() -> Vec<ComposeService> {
    let files = files_under("deploy/compose", &[".yml", ".yaml"]);
    assert!(files.len() >= 2, "expected the SQLite and the PostgreSQL compose files, found {files:?}");
    let img = image();
    let mut out = Vec::new();
    for file in files {
        let doc = yaml_docs(&file).remove(0);
        let dir = Path::new(&file).parent().unwrap().to_string_lossy().into_owned();
        for (name, svc) in doc["services"].as_mapping().expect("services") {
            let ours = svc["build"]["dockerfile"].as_str().is_some_and(|d| d.ends_with("deploy/docker/Dockerfile"));
            if !ours {
                continue;
            }
            let label = format!("{file} service {}", s(name));
            let mut env = img.env.clone();
            for ef in svc["env_file"].as_sequence().cloned().unwrap_or_default() {
                let path = ef.as_str().map(str::to_string).unwrap_or_else(|| s(&ef["path"]));
                // The operator's file is git-ignored; its example is what the README says to copy.
                env.extend(env_file(&format!("{dir}/{path}.example")));
            }
            match &svc["environment"] {
                Value::Mapping(m) => env.extend(m.iter().map(|(k, v)| (s(k), interpolate(&s(v))))),
                Value::Sequence(seq) => env.extend(seq.iter().map(|kv| {
                    let kv = s(kv);
                    let (k, v) = kv.split_once('=').unwrap_or((&kv, ""));
                    (k.to_string(), interpolate(v))
                })),
                _ => {}
            }
            let mut container_ports: Vec<u16> = strings(&svc["expose"]).iter().map(|p| p.parse().unwrap()).collect();
            container_ports.extend(strings(&svc["ports"]).iter().map(|p| port_of(p)));
            let command = match strings(&svc["command"]) {
                c if c.is_empty() => img.cmd.clone(),
                c => c,
            };
            out.push(ComposeService { label, env, command, container_ports });
        }
    }
    out
}

// --- Kubernetes -----------------------------------------------------------------------------

/// One variant: the shared manifests, the Secret example and the variant's own folder.
fn k8s_variant(variant: &str) -> Vec<Value> {
    let mut files = files_under("deploy/kubernetes/common", &[".yaml"]);
    files.push("deploy/kubernetes/secret.example.yaml".into());
    files.extend(files_under(&format!("deploy/kubernetes/{variant}"), &[".yaml"]));
    files.iter().flat_map(|f| yaml_docs(f)).collect()
}

fn k8s_named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} named {name}"))
}

fn k8s_workload(docs: &[Value]) -> &Value {
    let w: Vec<&Value> =
        docs.iter().filter(|d| matches!(d["kind"].as_str(), Some("Deployment" | "StatefulSet"))).collect();
    assert_eq!(w.len(), 1, "one workload per variant");
    w[0]
}

/// The container's environment as the kubelet builds it: envFrom in order, then env.
fn k8s_env(docs: &[Value], container: &Value) -> Env {
    let data = |kind: &str, name: &str| -> Env {
        let obj = k8s_named(docs, kind, name);
        let field = if kind == "Secret" { "stringData" } else { "data" };
        obj[field].as_mapping().map(|m| m.iter().map(|(k, v)| (s(k), s(v))).collect()).unwrap_or_default()
    };
    let mut env = Env::new();
    for from in container["envFrom"].as_sequence().cloned().unwrap_or_default() {
        if let Some(n) = from["configMapRef"]["name"].as_str() {
            env.extend(data("ConfigMap", n));
        }
        if let Some(n) = from["secretRef"]["name"].as_str() {
            env.extend(data("Secret", n));
        }
    }
    for e in container["env"].as_sequence().cloned().unwrap_or_default() {
        let name = s(&e["name"]);
        let value = if let Some(v) = e.get("value") {
            s(v)
        } else if let Some(r) = e["valueFrom"].get("secretKeyRef") {
            data("Secret", &s(&r["name"]))
                .get(&s(&r["key"]))
                .cloned()
                .unwrap_or_else(|| panic!("{name}: key not in Secret"))
        } else if let Some(r) = e["valueFrom"].get("configMapKeyRef") {
            data("ConfigMap", &s(&r["name"]))
                .get(&s(&r["key"]))
                .cloned()
                .unwrap_or_else(|| panic!("{name}: key not in ConfigMap"))
        } else {
            panic!("{name}: unsupported env source")
        };
        env.insert(name, value);
    }
    env
}

const K8S_VARIANTS: &[&str] = &["sqlite", "postgres"];

// --- systemd --------------------------------------------------------------------------------

/// `[Service]` keys of the unit (repeated keys keep every value).
fn unit() -> Vec<(String, String)> {
    read("deploy/systemd/zoom-sso-revoker.service")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// systemd's environment: Environment= first, EnvironmentFile= wins over it.
fn systemd_env() -> Env {
    let unit = unit();
    let mut env = Env::new();
    for (_, v) in unit.iter().filter(|(k, _)| k == "Environment") {
        for pair in v.split_whitespace() {
            let (k, v) = pair.split_once('=').unwrap();
            env.insert(k.to_string(), v.to_string());
        }
    }
    let files: Vec<&String> = unit.iter().filter(|(k, _)| k == "EnvironmentFile").map(|(_, v)| v).collect();
    assert_eq!(files.len(), 1, "one EnvironmentFile");
    let name = Path::new(files[0].trim_start_matches('-')).file_name().unwrap().to_string_lossy().into_owned();
    env.extend(env_file(&format!("deploy/systemd/{name}.example")));
    env
}

// --- the tests ------------------------------------------------------------------------------

#[test]
fn every_deployment_uses_real_settings_and_is_a_valid_configuration() {
    let mut assembled = 0;
    for svc in compose_services() {
        assemble(&svc.label, &svc.env);
        assembled += 1;
    }
    for variant in K8S_VARIANTS {
        let docs = k8s_variant(variant);
        let container = &k8s_workload(&docs)["spec"]["template"]["spec"]["containers"][0];
        assemble(&format!("kubernetes/{variant}"), &k8s_env(&docs, container));
        assembled += 1;
    }
    assemble("systemd", &systemd_env());
    assert_eq!(assembled, 4, "two compose files and two Kubernetes variants");
}

#[test]
fn the_image_env_and_the_secret_example_hold_only_settings() {
    let suffixes = documented_webhook_suffixes();
    let errors: Vec<String> = image().env.keys().filter_map(|k| not_a_setting(k, &[], &suffixes)).collect();
    assert!(errors.is_empty(), "Dockerfile ENV: {errors:?}");
    let sources = ["okta".to_string()];
    let secret = yaml_docs("deploy/kubernetes/secret.example.yaml").remove(0);
    let errors: Vec<String> = secret["stringData"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| not_a_setting(&s(k), &sources, &suffixes))
        .collect();
    assert!(errors.is_empty(), "secret.example.yaml: {errors:?}");
}

/// Commented-out settings are documentation too: each must be a setting, or one SPEC plans.
#[test]
fn commented_settings_are_real_or_planned() {
    let settings = ConfigArgs::env_names();
    let files = files_under("deploy", &[".yaml", ".yml", ".env.example"]);
    let mut errors = Vec::new();
    for file in files {
        for line in read(&file).lines() {
            let Some(c) = line.trim().strip_prefix('#') else { continue };
            let c = c.trim();
            let key: String =
                c.chars().take_while(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || *ch == '_').collect();
            let is_assignment = key.len() > 2 && (c[key.len()..].starts_with('=') || c[key.len()..].starts_with(": "));
            if is_assignment
                && !settings.contains(&key)
                && !PLANNED.contains(&key.as_str())
                && !key.starts_with("WEBHOOK_")
            {
                errors.push(format!("{file}: {key}"));
            }
        }
    }
    assert!(errors.is_empty(), "commented settings that do not exist: {errors:?}");
}

#[test]
fn ports_match_the_listen_port() {
    let port = default_port();
    let img = image();
    assert_eq!(img.expose, vec![port], "Dockerfile EXPOSE");
    assert!(!img.env.contains_key("LISTEN_ADDR"), "the image keeps the default listener");
    assert_eq!(port_of(img.healthcheck.last().unwrap()), port, "Dockerfile HEALTHCHECK URL");

    let services = compose_services();
    for svc in &services {
        let listen = svc.env.get("LISTEN_ADDR").map(|a| port_of(a)).unwrap_or(port);
        assert_eq!(listen, port, "{}: LISTEN_ADDR", svc.label);
        assert!(svc.container_ports.contains(&port), "{}: container port {port} not exposed", svc.label);
    }
    // nginx proxies to the replicas' listener.
    let nginx = read("deploy/compose/nginx.conf");
    // `server host:port ...;` inside `upstream`, not the `server {` block.
    let upstreams: Vec<&str> = nginx
        .lines()
        .filter_map(|l| l.trim().strip_prefix("server "))
        .map(|l| l.split_whitespace().next().unwrap())
        .filter(|w| *w != "{")
        .collect();
    assert!(!upstreams.is_empty(), "nginx.conf has no upstream server");
    for u in upstreams {
        assert_eq!(port_of(u), port, "nginx upstream {u}");
        let host = u.split(':').next().unwrap();
        assert!(
            services.iter().any(|s| s.label.ends_with(&format!("service {host}"))),
            "nginx upstream {host} is no service"
        );
    }

    for variant in K8S_VARIANTS {
        let docs = k8s_variant(variant);
        let pod = &k8s_workload(&docs)["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let env = k8s_env(&docs, container);
        assert_eq!(env.get("LISTEN_ADDR").map(|a| port_of(a)).unwrap_or(port), port, "{variant}: LISTEN_ADDR");
        let named: BTreeMap<String, u16> = container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| (s(&p["name"]), p["containerPort"].as_u64().unwrap() as u16))
            .collect();
        assert_eq!(named.get("http"), Some(&port), "{variant}: containerPort named http");
        let resolve = |p: &Value| -> u16 { p.as_u64().map(|n| n as u16).unwrap_or_else(|| named[&s(p)]) };
        let svc = k8s_named(&docs, "Service", "zoom-sso-revoker");
        for p in svc["spec"]["ports"].as_sequence().unwrap() {
            assert_eq!(resolve(&p["targetPort"]), port, "{variant}: Service targetPort");
        }
        let pod_labels = &k8s_workload(&docs)["spec"]["template"]["metadata"]["labels"];
        for (k, v) in svc["spec"]["selector"].as_mapping().unwrap() {
            assert_eq!(&pod_labels[k.as_str().unwrap()], v, "{variant}: Service selector {k:?}");
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(get) = container[probe].get("httpGet") {
                assert_eq!(resolve(&get["port"]), port, "{variant}: {probe} port");
            }
        }
        let policy = k8s_named(&docs, "NetworkPolicy", "zoom-sso-revoker");
        for rule in policy["spec"]["ingress"].as_sequence().unwrap() {
            for p in rule["ports"].as_sequence().unwrap() {
                assert_eq!(resolve(&p["port"]), port, "{variant}: NetworkPolicy ingress port");
            }
        }
    }

    let env = systemd_env();
    assert_eq!(env.get("LISTEN_ADDR").map(|a| port_of(a)).unwrap_or(port), port, "systemd LISTEN_ADDR");
}

#[tokio::test]
async fn probe_and_proxy_paths_are_served_by_the_router() {
    let app = common::spawn_app().await;
    let mut paths: Vec<(String, String)> = Vec::new();
    for variant in K8S_VARIANTS {
        let docs = k8s_variant(variant);
        let container = &k8s_workload(&docs)["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["livenessProbe"]["httpGet"]["path"].as_str(), Some("/healthz"), "{variant} liveness");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"].as_str(), Some("/readyz"), "{variant} readiness");
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(p) = container[probe]["httpGet"]["path"].as_str() {
                paths.push((format!("kubernetes/{variant} {probe}"), p.to_string()));
            }
        }
    }
    for line in read("deploy/compose/nginx.conf").lines() {
        if let Some(p) = line.trim().strip_prefix("location = ") {
            paths.push(("nginx.conf exact location".into(), p.trim_end_matches('{').trim().to_string()));
        }
    }
    assert!(paths.len() >= 6, "probe paths found: {paths:?}");
    for (what, path) in &paths {
        let r = app.http.get(format!("{}{path}", app.base_url)).send().await.expect("request");
        assert_eq!(r.status(), 200, "{what}: GET {path}");
    }

    // The proxied prefix reaches the webhook route (a configured source answers, an unknown 404s).
    let prefixes: Vec<String> = read("deploy/compose/nginx.conf")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("location /"))
        .map(|p| format!("/{}", p.trim_end_matches('{').trim()))
        .filter(|p| p != "/")
        .collect();
    assert_eq!(prefixes, vec!["/webhooks/".to_string()], "nginx proxies only the webhook prefix");
    let url = format!("{}{}okta", app.base_url, prefixes[0]);
    let r = app.http.post(&url).body("{}").send().await.expect("request");
    assert_eq!(r.status(), 401, "POST {url}: the webhook route, refusing an unsigned body");
}

/// Runs the real binary with `args` in an empty directory (no stray .env).
async fn run_binary(args: &[String]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_zoom-sso-revoker"))
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .output()
        .await
        .expect("run the binary")
}

#[tokio::test]
async fn healthcheck_and_serve_invocations_are_real_subcommands() {
    let img = image();
    assert_eq!(img.entrypoint, vec![BIN_PATH.to_string()], "ENTRYPOINT");
    assert!(img.copy_dests.contains(&BIN_PATH.to_string()), "the Dockerfile installs the binary at {BIN_PATH}");
    let hc = &img.healthcheck;
    assert_eq!(hc[0], BIN_PATH, "HEALTHCHECK runs the installed binary");
    assert_eq!(hc[1], "healthcheck", "HEALTHCHECK subcommand");

    // The exact health check, aimed at a live service, passes; aimed at a dead port, it fails.
    let app = common::spawn_app().await;
    let mut args = hc[1..].to_vec();
    let url = args.last_mut().unwrap();
    let port = port_of(url);
    *url = url.replace(&format!("127.0.0.1:{port}"), app.base_url.trim_start_matches("http://"));
    let out = run_binary(&args).await;
    assert!(out.status.success(), "{args:?} against a live service: {}", String::from_utf8_lossy(&out.stderr));
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    *args.last_mut().unwrap() = format!("http://{dead}");
    let out = run_binary(&args).await;
    assert!(!out.status.success(), "{args:?} against a closed port must fail");

    // Every command a deployment starts is a subcommand the binary knows.
    let mut commands: Vec<(String, Vec<String>)> = vec![("Dockerfile CMD".into(), img.cmd.clone())];
    for svc in compose_services() {
        commands.push((svc.label.clone(), svc.command.clone()));
    }
    for variant in K8S_VARIANTS {
        let docs = k8s_variant(variant);
        let container = &k8s_workload(&docs)["spec"]["template"]["spec"]["containers"][0];
        assert!(container.get("command").is_none(), "{variant}: keep the image's ENTRYPOINT");
        commands.push((format!("kubernetes/{variant} args"), strings(&container["args"])));
    }
    let exec_start = unit().into_iter().find(|(k, _)| k == "ExecStart").expect("ExecStart").1;
    let mut words = exec_start.split_whitespace().map(str::to_string);
    assert_eq!(words.next().as_deref(), Some(BIN_PATH), "systemd ExecStart binary");
    commands.push(("systemd ExecStart".into(), words.collect()));
    for (what, argv) in commands {
        assert_eq!(argv.first().map(String::as_str), Some("serve"), "{what}: {argv:?}");
        let mut help = argv.clone();
        help.push("--help".into());
        let out = run_binary(&help).await;
        assert!(out.status.success(), "{what}: {argv:?} is not a command of the binary");
    }
}
