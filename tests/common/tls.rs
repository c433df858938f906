//! TLS: test certificates made with openssl, and tansu behind socat as TLS terminator.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, Broker};

/// Runs `program` in `dir` to success, failing with its output.
pub fn run_ok(dir: &std::path::Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/install-test-deps installs it)"));
    assert!(out.status.success(), "{program} {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// Test certificates made with the openssl CLI: a CA, a server certificate for 127.0.0.1
/// signed by it (`server_pem`: certificate and key, as socat wants them), and an unrelated
/// CA that did not sign it.
pub struct Pki {
    pub ca: std::path::PathBuf,
    pub server_pem: std::path::PathBuf,
    pub other_ca: std::path::PathBuf,
}

impl Pki {
    pub fn generate(dir: &std::path::Path) -> Pki {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let ca = |name: &str, cn: &str| {
            let (key, pem, subject) = (format!("{name}.key"), format!("{name}.pem"), format!("/CN={cn}"));
            let mut args = vec!["req", "-x509", "-days", "2", "-subj", &subject, "-keyout", &key, "-out", &pem];
            args.extend(ec);
            run_ok(dir, "openssl", &args);
        };
        ca("ca", "ticketpulse test CA");
        ca("other-ca", "another CA");
        let mut request = vec!["req", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"];
        request.extend(ec);
        run_ok(dir, "openssl", &request);
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        run_ok(
            dir,
            "openssl",
            &[
                "x509",
                "-req",
                "-days",
                "2",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-extfile",
                "san.ext",
                "-out",
                "server.crt",
            ],
        );
        let both = [std::fs::read(dir.join("server.crt")).unwrap(), std::fs::read(dir.join("server.key")).unwrap()].concat();
        std::fs::write(dir.join("server.pem"), both).unwrap();
        Pki { ca: dir.join("ca.pem"), server_pem: dir.join("server.pem"), other_ca: dir.join("other-ca.pem") }
    }
}

/// tansu behind Debian's socat as TLS terminator: tansu advertises socat's port, so every
/// client connection is TLS with `server_pem`'s certificate. Both are killed on drop.
pub struct TlsBroker {
    /// The TLS listener.
    pub bootstrap: String,
    socat: Child,
    _broker: Broker,
}

impl TlsBroker {
    pub fn start(server_pem: &std::path::Path) -> TlsBroker {
        let (tansu_port, tls_port) = (free_port(), free_port());
        TlsBroker::terminate(server_pem, Broker::spawn_tansu(tansu_port, tls_port), tansu_port, tls_port)
    }

    /// Like [`TlsBroker::start`], with tansu requiring SASL authentication (it offers
    /// SCRAM-SHA-256 and SCRAM-SHA-512).
    pub fn start_with_authentication(server_pem: &std::path::Path) -> TlsBroker {
        let (tansu_port, tls_port) = (free_port(), free_port());
        let bin = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".into());
        let child = Command::new(&bin)
            .args(["broker", "--authentication", "--storage-engine", "memory://tansu/"])
            .arg("--listener-url")
            .arg(format!("tcp://127.0.0.1:{tansu_port}"))
            .arg("--advertised-listener-url")
            .arg(format!("tcp://127.0.0.1:{tls_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the tansu broker ({bin}): {e}. Run ./scripts/test, which installs it"));
        let broker = Broker { bootstrap: format!("127.0.0.1:{tls_port}"), child: Some(child) };
        TlsBroker::terminate(server_pem, broker, tansu_port, tls_port)
    }

    fn terminate(server_pem: &std::path::Path, broker: Broker, tansu_port: u16, tls_port: u16) -> TlsBroker {
        let socat = Command::new("socat")
            .arg(format!("openssl-listen:{tls_port},cert={},verify=0,reuseaddr,fork", server_pem.display()))
            .arg(format!("tcp:127.0.0.1:{tansu_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start socat: {e} (scripts/install-test-deps installs it)"));
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in [tansu_port, tls_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(Instant::now() < deadline, "tansu or socat did not listen on {port} within 30 s");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        TlsBroker { bootstrap: format!("127.0.0.1:{tls_port}"), socat, _broker: broker }
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.socat.kill();
        let _ = self.socat.wait();
    }
}
