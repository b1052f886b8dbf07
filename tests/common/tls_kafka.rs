//! An independent Kafka behind TLS for tests: tansu (a Kafka-compatible broker written apart
//! from librdkafka) in plaintext on 127.0.0.1, advertising the port of a socat TLS terminator
//! in front of it whose certificate a test CA signed for 127.0.0.1, and kafka-python (a client
//! that shares no code with librdkafka) to produce to it. `scripts/setup.sh` installs all three.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `scripts/setup.sh` puts tansu (or `IDLEDGER_TANSU`).
pub fn tansu_binary() -> PathBuf {
    let path = std::env::var_os("IDLEDGER_TANSU").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/idledger/tools/tansu-0.6.0/tansu")
        },
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup.sh (it installs tansu, socat and kafka-python)",
        path.display()
    );
    path
}

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`NAME.pem`, `NAME.key`) in `dir`.
pub fn make_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    dir.join(format!("{name}.pem"))
}

/// A certificate and key for `NAME` signed by `ca` (`make_ca`), with the given subject
/// alternative names and extended key usage, as `NAME.pem`, `NAME.key`.
pub fn make_cert(dir: &Path, ca: &str, name: &str, san: &str, usage: &str) -> (PathBuf, PathBuf) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!("subjectAltName={san}\nextendedKeyUsage={usage}\n"),
    )
    .expect("write ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    )
}

/// tansu behind a TLS terminator, with topics created; stopped when dropped.
pub struct TlsKafka {
    /// `127.0.0.1:PORT` of the TLS listener, the only address the broker advertises.
    pub bootstrap: String,
    /// The CA that signed the listener's certificate.
    pub ca: PathBuf,
    pub dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl TlsKafka {
    pub fn start(topics: &[(&str, u32)]) -> TlsKafka {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = make_ca(dir.path(), "test-ca");
        let (cert, key) = make_cert(
            dir.path(),
            "test-ca",
            "broker",
            "IP:127.0.0.1",
            "serverAuth",
        );
        let combined = dir.path().join("broker-combined.pem");
        let text = std::fs::read_to_string(&cert).expect("cert")
            + &std::fs::read_to_string(&key).expect("key");
        std::fs::write(&combined, text).expect("write");
        let (plain, tls) = (free_port(), free_port());
        let tansu = Command::new(tansu_binary())
            .args([
                "broker",
                "--listener-url",
                &format!("tcp://127.0.0.1:{plain}"),
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{tls}"),
                "--silent",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let socat = Command::new("socat")
            .arg(format!(
                "openssl-listen:{tls},bind=127.0.0.1,reuseaddr,fork,cert={},verify=0",
                combined.display()
            ))
            .arg(format!("tcp:127.0.0.1:{plain}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start socat (scripts/setup.sh installs it)");
        let kafka = TlsKafka {
            bootstrap: format!("127.0.0.1:{tls}"),
            ca,
            dir,
            children: vec![tansu, socat],
        };
        wait_listening(plain, "tansu");
        wait_listening(tls, "socat");
        for (topic, partitions) in topics {
            let out = Command::new(tansu_binary())
                .args([
                    "topic",
                    "create",
                    topic,
                    "--partitions",
                    &partitions.to_string(),
                    "--broker",
                    &format!("tcp://127.0.0.1:{plain}"),
                ])
                .output()
                .expect("tansu topic create");
            assert!(
                out.status.success(),
                "create {topic}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        kafka
    }

    /// Produces `count` events per codec to `topic` with kafka-python, over TLS with the CA
    /// and hostname checked. Event ids are `CODEC-I`.
    pub fn produce(&self, topic: &str, count: usize, codecs: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kafka/produce.py");
        let out = Command::new("python3")
            .arg(script)
            .arg(&self.bootstrap)
            .arg(&self.ca)
            .arg(topic)
            .arg(count.to_string())
            .args(codecs)
            .output()
            .expect("run python3 (scripts/setup.sh installs kafka-python)");
        assert!(
            out.status.success(),
            "kafka-python producer: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout);
        for codec in codecs {
            assert!(said.contains(&format!("sent {codec} {count}")), "{said}");
        }
    }
}

impl Drop for TlsKafka {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
