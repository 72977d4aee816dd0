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
    /// This process's CPU time so far.
    pub fn now() -> std::io::Result<Self> {
        Self::read("/proc/self/stat")
    }

    /// Process `pid`'s CPU time so far.
    pub fn of(pid: u32) -> std::io::Result<Self> {
        Self::read(&format!("/proc/{pid}/stat"))
    }

    fn read(path: &str) -> std::io::Result<Self> {
        parse_stat(&std::fs::read_to_string(path)?)
            .ok_or_else(|| std::io::Error::other(format!("unexpected {path} format")))
    }

    fn busy_since(&self, start: &Self) -> Duration {
        self.user.saturating_sub(start.user) + self.system.saturating_sub(start.system)
    }
}

/// Whole-machine CPU time from the first line of `/proc/stat`: busy and total, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineTimes {
    pub busy: u64,
    pub total: u64,
}

impl MachineTimes {
    pub fn now() -> std::io::Result<Self> {
        parse_proc_stat(&std::fs::read_to_string("/proc/stat")?)
            .ok_or_else(|| std::io::Error::other("unexpected /proc/stat format"))
    }
}

/// `cpu  user nice system idle iowait irq softirq steal …`: idle and iowait are not busy.
fn parse_proc_stat(stat: &str) -> Option<MachineTimes> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if fields.len() < 5 {
        return None;
    }
    let total: u64 = fields.iter().sum();
    Some(MachineTimes {
        busy: total - fields[3] - fields[4],
        total,
    })
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

/// Readings taken at the start of a run, to report CPU use over it: this process's, the
/// server's (given its PID) and the whole machine's, so a reader can see who was busy.
#[derive(Debug)]
pub struct Probe {
    wall: std::time::Instant,
    own: Option<CpuTimes>,
    server: Option<(u32, CpuTimes)>,
    machine: Option<MachineTimes>,
    fd_limit: u64,
}

/// What [`Probe::finish`] found.
#[derive(Debug, Default)]
pub struct Usage {
    pub load_generator: Section,
    pub server: Section,
    pub machine: Section,
}

impl Probe {
    pub fn start(server_pid: Option<u32>, fd_limit: u64) -> Self {
        Self {
            wall: std::time::Instant::now(),
            own: CpuTimes::now().ok(),
            server: server_pid.and_then(|pid| Some((pid, CpuTimes::of(pid).ok()?))),
            machine: MachineTimes::now().ok(),
            fd_limit,
        }
    }

    pub fn finish(&self) -> Usage {
        let wall = self.wall.elapsed();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let pct = |busy: Duration| {
            if wall.is_zero() {
                0.0
            } else {
                100.0 * busy.as_secs_f64() / wall.as_secs_f64()
            }
        };
        let mut usage = Usage::default();

        let own_busy = self
            .own
            .zip(CpuTimes::now().ok())
            .map(|(start, end)| push_cpu(&mut usage.load_generator, &start, &end, pct));
        let s = &mut usage.load_generator;
        s.push("wall_s", "wall time", Value::Secs(wall.as_secs_f64()));
        if let Some(peak) = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|st| status_kb_field(&st, "VmHWM"))
        {
            s.push("peak_rss_bytes", "peak RSS", Value::Bytes(peak));
        }
        s.push("fd_limit", "open-file limit", Value::Count(self.fd_limit));

        let server_busy = self.server.and_then(|(pid, start)| {
            let end = CpuTimes::of(pid).ok()?;
            let s = &mut usage.server;
            s.push("pid", "pid", Value::Count(u64::from(pid)));
            let busy = push_cpu(s, &start, &end, pct);
            if let Ok(rss) = rss_bytes(pid) {
                s.push("rss_end_bytes", "RSS at end", Value::Bytes(rss));
            }
            Some(busy)
        });

        let s = &mut usage.machine;
        s.push("cores", "cores", Value::Count(cores as u64));
        if let (Some(start), Ok(end)) = (self.machine, MachineTimes::now()) {
            let total = end.total.saturating_sub(start.total);
            if total > 0 {
                let busy_pct = 100.0 * end.busy.saturating_sub(start.busy) as f64 / total as f64;
                s.push(
                    "busy_percent",
                    "busy (% of all cores)",
                    Value::Percent(busy_pct),
                );
                // What neither the generator nor the server used: other processes on a
                // shared machine, which make the figures noisier.
                let ours = own_busy.unwrap_or_default() + server_busy.unwrap_or_default();
                let ours_pct = pct(ours) / cores as f64;
                s.push(
                    "others_percent",
                    "used by other processes",
                    Value::Percent((busy_pct - ours_pct).max(0.0)),
                );
            }
        }
        usage
    }
}

/// Adds a process's CPU use between two readings to a report section (user, system and
/// share of one core) and returns its busy time.
fn push_cpu(
    s: &mut crate::report::Section,
    start: &CpuTimes,
    end: &CpuTimes,
    pct: impl Fn(Duration) -> f64,
) -> Duration {
    s.push(
        "cpu_user_s",
        "cpu user",
        Value::Secs(end.user.saturating_sub(start.user).as_secs_f64()),
    );
    s.push(
        "cpu_system_s",
        "cpu system",
        Value::Secs(end.system.saturating_sub(start.system).as_secs_f64()),
    );
    let busy = end.busy_since(start);
    s.push(
        "cpu_percent_of_one_core",
        "cpu (% of one core)",
        Value::Percent(pct(busy)),
    );
    busy
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
    fn probe_reports_generator_server_and_machine() {
        // Our own PID stands in for the server's.
        let probe = Probe::start(Some(std::process::id()), 1024);
        let u = probe.finish();
        let keys = |s: &Section| s.entries().iter().map(|e| e.key).collect::<Vec<_>>();
        assert!(keys(&u.load_generator).contains(&"cpu_percent_of_one_core"));
        assert!(keys(&u.load_generator).contains(&"peak_rss_bytes"));
        assert!(keys(&u.server).contains(&"rss_end_bytes"));
        assert!(keys(&u.machine).contains(&"cores"));
        assert!(Probe::start(None, 0).finish().server.entries().is_empty());
    }

    #[test]
    fn machine_times_skip_idle_and_iowait() {
        let stat = "cpu  100 5 50 1000 20 1 2 3 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n";
        assert_eq!(
            parse_proc_stat(stat),
            Some(MachineTimes {
                busy: 161,
                total: 1181
            })
        );
        assert_eq!(parse_proc_stat("intr 1 2 3"), None);
    }
}
