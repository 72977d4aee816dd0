//! What the generator learns from the operating system: the file-descriptor limit (raised at
//! start), its own CPU time (so a reader can tell whether it was the bottleneck), and a
//! process's resident memory from `/proc`.

use std::time::Duration;

use crate::report::{Section, Value};

/// Linux reports CPU times in /proc in USER_HZ ticks, fixed at 100 on every mainstream
/// architecture (it is not CONFIG_HZ); reading sysconf would need `unsafe`.
const TICKS_PER_SEC: f64 = 100.0;
/// Descriptors kept free for everything that is not a benchmark socket.
const FD_HEADROOM: u64 = 64;

/// The descriptor limit after raising it.
#[derive(Debug, Clone)]
pub struct FdLimit {
    pub soft: u64,
    /// Set when the limit is too low for the run, with what to do about it.
    pub warning: Option<String>,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and says if that is still too low for
/// `sockets` sockets.
pub fn raise_fd_limit(sockets: u64) -> FdLimit {
    let wanted = sockets + FD_HEADROOM;
    let soft = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            let msg = format!("could not raise the open-file limit: {e}");
            eprintln!("warning: {msg}");
            return FdLimit {
                soft: 0,
                warning: Some(msg),
            };
        }
    };
    let warning = (soft < wanted).then(|| {
        let msg = format!(
            "the open-file limit is {soft} (the hard limit), but this run needs about {wanted}: \
             connections past the limit will fail. Raise it (as root: `ulimit -Hn {wanted}`, or \
             LimitNOFILE=) or open fewer connections."
        );
        eprintln!("warning: {msg}");
        msg
    });
    FdLimit { soft, warning }
}

/// CPU time consumed by this process so far (all threads).
#[derive(Debug, Clone, Copy)]
pub struct CpuTimes {
    pub user: Duration,
    pub system: Duration,
}

impl CpuTimes {
    pub fn now() -> std::io::Result<Self> {
        parse_stat(&std::fs::read_to_string("/proc/self/stat")?)
            .ok_or_else(|| std::io::Error::other("unexpected /proc/self/stat format"))
    }
}

/// Parses utime and stime (fields 14 and 15) from a `/proc/PID/stat` line. The command name
/// (field 2) may contain spaces and parentheses, so fields are counted after its last `)`.
fn parse_stat(stat: &str) -> Option<CpuTimes> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11); // field 3 is the first after ')'
    let ticks = |s: &str| s.parse::<u64>().ok().map(|t| t as f64 / TICKS_PER_SEC);
    let user = ticks(fields.next()?)?;
    let system = ticks(fields.next()?)?;
    Some(CpuTimes {
        user: Duration::from_secs_f64(user),
        system: Duration::from_secs_f64(system),
    })
}

/// A `kB` field (e.g. `VmRSS`, `VmHWM`) of `/proc/PID/status`, in bytes.
fn status_kb_field(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// Resident set size of process `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status_kb_field(&status, "VmRSS")
        .ok_or_else(|| std::io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// The report section describing the generator's own resource use.
pub fn self_usage(start: Option<CpuTimes>, wall: Duration, fd_limit: u64) -> Section {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut s = Section::default();
    s.push("cores", "machine cores", Value::Count(cores as u64));
    if let (Some(start), Ok(end)) = (start, CpuTimes::now()) {
        let user = end.user.saturating_sub(start.user);
        let system = end.system.saturating_sub(start.system);
        let busy = (user + system).as_secs_f64();
        let pct = if wall.is_zero() {
            0.0
        } else {
            100.0 * busy / wall.as_secs_f64()
        };
        s.push("cpu_user_s", "cpu user", Value::Secs(user.as_secs_f64()));
        s.push(
            "cpu_system_s",
            "cpu system",
            Value::Secs(system.as_secs_f64()),
        );
        s.push(
            "cpu_percent_of_one_core",
            "cpu (% of one core)",
            Value::Percent(pct),
        );
        s.push(
            "cpu_percent_of_machine",
            "cpu (% of machine)",
            Value::Percent(pct / cores as f64),
        );
    }
    s.push("wall_s", "wall time", Value::Secs(wall.as_secs_f64()));
    if let Some(peak) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|st| status_kb_field(&st, "VmHWM"))
    {
        s.push("peak_rss_bytes", "peak RSS", Value::Bytes(peak));
    }
    s.push("fd_limit", "open-file limit", Value::Count(fd_limit));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_tricky_command_name() {
        let line = "1234 (a) b (c) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 3 0 100 0 0";
        let t = parse_stat(line).unwrap();
        assert_eq!(t.user, Duration::from_millis(2500));
        assert_eq!(t.system, Duration::from_millis(750));
    }

    #[test]
    fn reads_our_own_cpu_and_memory() {
        CpuTimes::now().unwrap();
        assert!(rss_bytes(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn status_fields_are_read_in_bytes() {
        let st = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_kb_field(st, "VmRSS"), Some(1024 * 1024));
        assert_eq!(status_kb_field(st, "VmHWM"), Some(2048 * 1024));
        assert_eq!(status_kb_field(st, "VmSwap"), None);
    }

    #[test]
    fn usage_section_has_cpu_figures() {
        let s = self_usage(CpuTimes::now().ok(), Duration::from_secs(1), 1024);
        let keys: Vec<_> = s.entries().iter().map(|e| e.key).collect();
        assert!(keys.contains(&"cpu_percent_of_one_core"), "{keys:?}");
        assert!(keys.contains(&"peak_rss_bytes"), "{keys:?}");
    }
}
