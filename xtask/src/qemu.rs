//! Running the ISO under QEMU: accelerator choice, firmware, serial capture
//! with a hard timeout.

use bareflow_boot_model::exit::{DEBUG_EXIT_PORT, ExitCode};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// CPU virtualization used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// KVM with the host CPU model.
    Kvm,
    /// QEMU's TCG emulator, `-cpu max`.
    Tcg,
}

impl Accel {
    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// KVM when it is usable (see [`kvm_status`]), else TCG.
/// `BAREFLOW_ACCEL=kvm|tcg|auto` (or an explicit choice) overrides.
pub fn select_accel(explicit: Option<&str>) -> Result<Accel, String> {
    let env = std::env::var("BAREFLOW_ACCEL").ok();
    match explicit.or(env.as_deref()).unwrap_or("auto") {
        "kvm" => Ok(Accel::Kvm),
        "tcg" => Ok(Accel::Tcg),
        "auto" | "" => match kvm_status() {
            Ok(()) => Ok(Accel::Kvm),
            Err(why) => {
                eprintln!("xtask: using TCG: {why} (BAREFLOW_ACCEL=kvm forces KVM)");
                Ok(Accel::Tcg)
            }
        },
        other => Err(format!(
            "unknown accelerator '{other}' (expected kvm, tcg or auto)"
        )),
    }
}

/// KVM is used when `/dev/kvm` opens read-write and the CPU advertises
/// hardware virtualization (`vmx` or `svm` in /proc/cpuinfo). Some sandboxes
/// provide a `/dev/kvm` without it, which cannot run this kernel.
pub fn kvm_status() -> Result<(), String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|e| format!("/dev/kvm does not open read-write ({e})"))?;
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let hw = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
    if hw {
        Ok(())
    } else {
        Err(
            "/dev/kvm exists but the CPU shows no vmx/svm flag, so it is not hardware-assisted KVM"
                .into(),
        )
    }
}

/// UEFI firmware: (code, vars template).
pub fn find_ovmf() -> Result<(PathBuf, PathBuf), String> {
    let candidates = [
        (
            "/usr/share/OVMF/OVMF_CODE_4M.fd",
            "/usr/share/OVMF/OVMF_VARS_4M.fd",
        ),
        (
            "/usr/share/OVMF/OVMF_CODE.fd",
            "/usr/share/OVMF/OVMF_VARS.fd",
        ),
        (
            "/usr/share/edk2/ovmf/OVMF_CODE.fd",
            "/usr/share/edk2/ovmf/OVMF_VARS.fd",
        ),
    ];
    candidates
        .iter()
        .map(|(c, v)| (PathBuf::from(c), PathBuf::from(v)))
        .find(|(c, v)| c.is_file() && v.is_file())
        .ok_or_else(|| {
            "OVMF firmware not found (install the `ovmf` package; ./x does this)".to_string()
        })
}

/// A raw file attached as a virtio block device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drive {
    /// The file (raw format).
    pub file: PathBuf,
    /// Attach it read-only (QEMU `readonly=on`; the kernel sees a read-only drive).
    pub read_only: bool,
    /// The device's serial number, which the kernel reads (empty: none).
    pub serial: String,
}

impl Drive {
    /// A read-only drive with a serial.
    pub fn read_only(file: impl Into<PathBuf>, serial: &str) -> Drive {
        Drive {
            file: file.into(),
            read_only: true,
            serial: serial.to_string(),
        }
    }

    /// The `-drive` and `-device` arguments of drive number `index`.
    fn args(&self, index: usize) -> [String; 4] {
        let mut drive = format!(
            "file={},format=raw,if=none,id=drive{index}",
            self.file.display()
        );
        if self.read_only {
            drive.push_str(",readonly=on");
        }
        let mut device = format!("virtio-blk-pci,drive=drive{index}");
        if !self.serial.is_empty() {
            device.push_str(",serial=");
            device.push_str(&self.serial);
        }
        ["-drive".into(), drive, "-device".into(), device]
    }
}

/// One QEMU run.
#[derive(Debug, Clone)]
pub struct QemuConfig {
    /// The ISO to boot.
    pub iso: PathBuf,
    /// CPUs.
    pub smp: u32,
    /// RAM in MiB.
    pub mem_mib: u32,
    /// Boot through OVMF instead of SeaBIOS.
    pub uefi: bool,
    /// Accelerator.
    pub accel: Accel,
    /// Kill QEMU after this long.
    pub timeout: Duration,
    /// Virtio drives, in PCI order.
    pub drives: Vec<Drive>,
}

/// What a run produced.
#[derive(Debug)]
pub struct QemuOutcome {
    /// QEMU's exit status (None if killed).
    pub status: Option<i32>,
    /// Every serial line.
    pub lines: Vec<String>,
    /// When each line arrived, from QEMU's start.
    pub arrivals: Vec<Duration>,
    /// Time from starting QEMU to the first trace event.
    pub first_event: Option<Duration>,
    /// Total run time.
    pub elapsed: Duration,
    /// Whether the timeout fired.
    pub timed_out: bool,
    /// QEMU's own error output.
    pub stderr: String,
}

impl QemuOutcome {
    /// The kernel exit code behind QEMU's status, if it is one.
    pub fn exit_code(&self) -> Option<ExitCode> {
        self.status.and_then(ExitCode::from_qemu_status)
    }

    /// The last `n` serial lines, for failure messages.
    pub fn tail(&self, n: usize) -> String {
        let start = self.lines.len().saturating_sub(n);
        let mut s = self.lines[start..].join("\n");
        if !self.stderr.trim().is_empty() {
            s.push_str("\n[qemu stderr] ");
            s.push_str(self.stderr.trim());
        }
        s
    }
}

/// The QEMU command line for `cfg` (`vars` is a writable OVMF vars copy).
pub fn command(cfg: &QemuConfig, vars: Option<&Path>) -> Result<Command, String> {
    let mut c = Command::new("qemu-system-x86_64");
    match cfg.accel {
        Accel::Kvm => c.args(["-enable-kvm", "-cpu", "host"]),
        Accel::Tcg => c.args(["-accel", "tcg", "-cpu", "max"]),
    };
    c.arg("-smp").arg(cfg.smp.to_string());
    c.arg("-m").arg(format!("{}M", cfg.mem_mib));
    c.args([
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
    ]);
    c.arg("-device").arg(format!(
        "isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=0x04"
    ));
    if cfg.uefi {
        let (code, _) = find_ovmf()?;
        let vars = vars.ok_or("UEFI run needs an OVMF vars file")?;
        c.arg("-drive").arg(format!(
            "if=pflash,format=raw,unit=0,readonly=on,file={}",
            code.display()
        ));
        c.arg("-drive").arg(format!(
            "if=pflash,format=raw,unit=1,file={}",
            vars.display()
        ));
    }
    for (i, d) in cfg.drives.iter().enumerate() {
        c.args(d.args(i));
    }
    c.arg("-cdrom").arg(&cfg.iso);
    Ok(c)
}

/// Bytes for the kernel's serial input (QEMU's stdin).
pub struct SerialInput {
    stdin: Option<std::process::ChildStdin>,
}

impl SerialInput {
    /// Sends `bytes` to COM1's receive side.
    pub fn send(&mut self, bytes: &[u8]) {
        if let Some(s) = self.stdin.as_mut()
            && (s.write_all(bytes).is_err() || s.flush().is_err())
        {
            self.stdin = None;
        }
    }
}

/// Boots `cfg`, feeding each serial line to `on_line` as it arrives, and
/// kills QEMU when the timeout expires.
pub fn run(cfg: &QemuConfig, mut on_line: impl FnMut(&str)) -> Result<QemuOutcome, String> {
    run_with_input(cfg, |line, _| on_line(line))
}

/// [`run`] with the kernel's serial input open: `on_line` may answer a line
/// by sending bytes (a console session driven by a program).
pub fn run_with_input(
    cfg: &QemuConfig,
    mut on_line: impl FnMut(&str, &mut SerialInput),
) -> Result<QemuOutcome, String> {
    let vars_copy = if cfg.uefi {
        let (_, vars) = find_ovmf()?;
        let dir = crate::paths::iso_dir();
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let copy = dir.join(format!("ovmf-vars-{}.fd", std::process::id()));
        std::fs::copy(&vars, &copy).map_err(|e| format!("cannot copy {}: {e}", vars.display()))?;
        Some(copy)
    } else {
        None
    };
    let mut cmd = command(cfg, vars_copy.as_deref())?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        format!("cannot start qemu-system-x86_64: {e} (install qemu-system-x86; ./x does this)")
    })?;
    let mut input = SerialInput {
        stdin: child.stdin.take(),
    };
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    let (err_tx, err_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        while let Ok(n) = r.read_until(b'\n', &mut buf) {
            if n == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf)
                .trim_end_matches(['\r', '\n'])
                .to_string();
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
            buf.clear();
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let mut r = BufReader::new(&mut stderr);
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) {
            let _ = err_tx.send(line.clone());
            s.push_str(&line);
            line.clear();
        }
        let _ = r.read_to_string(&mut s);
        s
    });

    let deadline = start + cfg.timeout;
    let mut lines = Vec::new();
    let mut arrivals = Vec::new();
    let mut first_event = None;
    let mut timed_out = false;
    let mut vm_failed = false;
    loop {
        // QEMU stops the VM but keeps running after a KVM internal error:
        // nothing more will come, so end the run now.
        if err_rx.try_iter().any(|l| l.contains("KVM internal error")) {
            vm_failed = true;
            std::thread::sleep(Duration::from_millis(300));
            let _ = child.kill();
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            let _ = child.kill();
            break;
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(200))) {
            Ok((at, line)) => {
                if first_event.is_none() && crate::trace::event_start(&line).is_some() {
                    first_event = Some(at - start);
                }
                on_line(&line, &mut input);
                lines.push(line);
                arrivals.push(at - start);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(_)) = child.try_wait() {
                    // Drain what is left after the process ended.
                    while let Ok((at, line)) = rx.recv_timeout(Duration::from_millis(300)) {
                        if first_event.is_none() && crate::trace::event_start(&line).is_some() {
                            first_event = Some(at - start);
                        }
                        on_line(&line, &mut input);
                        lines.push(line);
                        arrivals.push(at - start);
                    }
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait().map_err(|e| format!("waiting for qemu: {e}"))?;
    let elapsed = start.elapsed();
    let _ = reader.join();
    let stderr = err_reader.join().unwrap_or_default();
    if let Some(v) = vars_copy {
        let _ = std::fs::remove_file(v);
    }
    if vm_failed {
        return Err(format!(
            "QEMU reported a KVM internal error after {:.1} s (this /dev/kvm cannot run the kernel; \
             use BAREFLOW_ACCEL=tcg):\n{}",
            elapsed.as_secs_f64(),
            stderr.lines().take(12).collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(QemuOutcome {
        status: if timed_out { None } else { status.code() },
        lines,
        arrivals,
        first_event,
        elapsed,
        timed_out,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accel_override() {
        assert_eq!(select_accel(Some("tcg")).unwrap(), Accel::Tcg);
        assert_eq!(select_accel(Some("kvm")).unwrap(), Accel::Kvm);
        assert!(
            select_accel(Some("hvf"))
                .unwrap_err()
                .contains("kvm, tcg or auto")
        );
    }

    #[test]
    fn command_line_has_exit_device_and_serial() {
        let cfg = QemuConfig {
            iso: PathBuf::from("x.iso"),
            smp: 2,
            mem_mib: 512,
            uefi: false,
            accel: Accel::Tcg,
            timeout: Duration::from_secs(1),
            drives: vec![
                Drive::read_only("m.gguf", "model"),
                Drive {
                    file: PathBuf::from("c.img"),
                    read_only: false,
                    serial: String::new(),
                },
            ],
        };
        let c = command(&cfg, None).unwrap();
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(
            joined.contains("-device isa-debug-exit,iobase=0xf4,iosize=0x04"),
            "{joined}"
        );
        assert!(joined.contains("-serial stdio"));
        assert!(joined.contains("-smp 2"));
        assert!(joined.contains("-cpu max"));
        assert!(joined.contains(
            "-drive file=m.gguf,format=raw,if=none,id=drive0,readonly=on \
             -device virtio-blk-pci,drive=drive0,serial=model \
             -drive file=c.img,format=raw,if=none,id=drive1 -device virtio-blk-pci,drive=drive1 "
        ));
    }
}
