//! `docker create` settings written in a workflow: the `options:` string of a
//! job's `container:` or of a service, and its `ports:` and `volumes:`
//! entries, parsed into [`RunOptions`], [`PortMapping`] and [`VolumeMount`] and
//! then applied to bollard's [`ContainerCreateBody`].
//!
//! Pure: no Docker, no I/O, no environment variables. `options:` is split into
//! words the way a POSIX shell splits them (quotes and backslashes; nothing is
//! expanded), and the words are read as the `docker create` flags Gantry
//! supports, in the `--flag value`, `--flag=value`, `-f value`, `-f=value` and
//! `-fvalue` forms. Nothing is dropped silently: an unknown flag, a missing or
//! bad value, or a flag that would fight Gantry's own container management
//! (`--name`, `--network`) is an error that names the flag and says what to
//! write instead. Only `--rm` is accepted and ignored (Gantry removes its
//! containers anyway).
//!
//! Applying never removes what the caller set: lists (env, binds, capabilities
//! …) are appended to, maps (labels, tmpfs …) are inserted into, and single
//! values (user, entrypoint …) are replaced only when the option was given.

use std::collections::BTreeMap;
use std::net::IpAddr;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, HealthConfig, HostConfig, PortBinding, ResourcesUlimits,
};

/// Why `options:`, a `ports:` entry or a `volumes:` entry could not be read.
/// Every message names what the user wrote and says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error(
        "unterminated {} quote in `options:`: close it with another `{quote}`, or escape it with a backslash",
        quote_name(*.quote)
    )]
    UnterminatedQuote { quote: char },
    #[error("`options:` ends with a backslash: remove it, or write `\\\\` for a literal backslash")]
    TrailingBackslash,
    /// `hint` is the end of the message: empty, ` (did you mean …?)` or `: …`.
    #[error("unknown option `{flag}` in `options:`{hint}")]
    UnknownFlag { flag: String, hint: String },
    /// A word that is not a flag, such as an unquoted part of a value.
    #[error("`{word}` in `options:` is not a flag: {hint}")]
    NotAFlag { word: String, hint: String },
    #[error("`{flag}` in `options:` needs a value: write `{flag} VALUE` or `{flag}=VALUE`")]
    MissingValue { flag: String },
    #[error("invalid value `{value}` for `{flag}` in `options:`: {expected}")]
    InvalidValue {
        flag: String,
        value: String,
        expected: String,
    },
    #[error("`{flag}` is not supported in `options:`: {reason}")]
    Unsupported { flag: String, reason: &'static str },
    #[error("`--no-healthcheck` conflicts with `{flag}` in `options:`: remove one of them")]
    HealthConflict { flag: String },
    #[error("invalid port `{spec}` in `ports:`: {problem}")]
    InvalidPort { spec: String, problem: String },
    #[error("invalid volume `{spec}` in `volumes:`: {problem}")]
    InvalidVolume { spec: String, problem: String },
}

fn quote_name(quote: char) -> &'static str {
    if quote == '\'' { "single" } else { "double" }
}

/// Everything `options:` asked for. Fields left at their default were not
/// given; [`RunOptions::apply`] leaves the matching container settings alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// `--health-*`.
    pub health: HealthOptions,
    /// `--no-healthcheck`: disable the image's health check.
    pub no_healthcheck: bool,
    /// `-e`/`--env`: `NAME=value`, or a bare `NAME`, which Docker takes as
    /// "remove `NAME` from the container's environment". Values are never
    /// taken from the environment of the machine running Gantry.
    pub env: Vec<String>,
    /// `--entrypoint`: the whole value is the program (Docker does not split
    /// it); an empty value resets the image's entrypoint.
    pub entrypoint: Option<String>,
    /// `-u`/`--user`.
    pub user: Option<String>,
    /// `-w`/`--workdir`, an absolute path.
    pub workdir: Option<String>,
    /// `-h`/`--hostname`.
    pub hostname: Option<String>,
    /// `--network-alias`: extra names on the job's network. Not part of the
    /// container's config: the caller adds them to the network endpoint.
    pub network_aliases: Vec<String>,
    /// `--cpus`, in billionths of a CPU.
    pub nano_cpus: Option<i64>,
    /// `-c`/`--cpu-shares`.
    pub cpu_shares: Option<i64>,
    /// `--cpuset-cpus`, such as `0-3,5`.
    pub cpuset_cpus: Option<String>,
    /// `-m`/`--memory`, in bytes.
    pub memory: Option<i64>,
    /// `--memory-swap`, in bytes; `-1` is unlimited.
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`, in bytes.
    pub memory_reservation: Option<i64>,
    /// `--shm-size`, in bytes.
    pub shm_size: Option<i64>,
    /// `--privileged`.
    pub privileged: Option<bool>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--add-host`, as `host:ip`.
    pub extra_hosts: Vec<String>,
    /// `--tmpfs`: mount point → mount options (possibly empty).
    pub tmpfs: BTreeMap<String, String>,
    /// `-v`/`--volume`.
    pub volumes: Vec<VolumeMount>,
    /// `--init`.
    pub init: Option<bool>,
    /// `--read-only`.
    pub read_only: Option<bool>,
    /// `-l`/`--label`.
    pub labels: BTreeMap<String, String>,
    /// `--ulimit`, at most one per name (the last one given wins).
    pub ulimits: Vec<Ulimit>,
    /// `--security-opt`.
    pub security_opt: Vec<String>,
    /// `--dns`: IP addresses.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    pub dns_options: Vec<String>,
    /// `--ipc`.
    pub ipc: Option<String>,
    /// `--pids-limit`; `0` or `-1` is unlimited.
    pub pids_limit: Option<i64>,
    /// `-p`/`--publish`.
    pub ports: Vec<PortMapping>,
    /// `--sysctl`.
    pub sysctls: BTreeMap<String, String>,
    /// `--group-add`.
    pub group_add: Vec<String>,
    /// `--device`.
    pub devices: Vec<Device>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`, in seconds.
    pub stop_timeout: Option<i64>,
}

/// The `--health-*` flags. Durations are in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthOptions {
    /// Run with the container's shell (`CMD-SHELL`).
    pub cmd: Option<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub retries: Option<i64>,
    pub start_period: Option<i64>,
    pub start_interval: Option<i64>,
}

impl HealthOptions {
    fn is_empty(&self) -> bool {
        *self == HealthOptions::default()
    }
}

/// One `--ulimit name=soft[:hard]`; `hard` defaults to `soft`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// One `--device HOST[:CONTAINER][:PERMISSIONS]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub host_path: String,
    pub container_path: String,
    /// Some of `r`, `w` and `m`; `rwm` unless given.
    pub permissions: String,
}

/// One published port: a `ports:` entry or a `-p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    /// The host address to listen on; every address when `None`.
    pub host_ip: Option<String>,
    /// The host port; a random free port when `None`.
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PortMapping {
    /// Docker's key for the container side, such as `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol.as_str())
    }
}

/// The protocol of a [`PortMapping`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One mount: a `volumes:` entry or a `-v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    pub source: VolumeSource,
    /// Absolute path inside the container.
    pub target: String,
    /// Comma-separated mode flags as written (`ro`, `rw`, `z` …).
    pub mode: Option<String>,
}

/// Where a [`VolumeMount`]'s content lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// A fresh volume Docker creates for the container.
    Anonymous,
    /// A named Docker volume, created on first use.
    Named(String),
    /// An absolute path on the Docker host.
    HostPath(String),
}

impl VolumeMount {
    /// The `HostConfig.binds` entry for this mount, or `None` for an
    /// anonymous volume without a mode, which goes into the container
    /// config's `volumes` instead.
    pub fn bind(&self) -> Option<String> {
        let source = match &self.source {
            VolumeSource::Anonymous => None,
            VolumeSource::Named(source) | VolumeSource::HostPath(source) => Some(source),
        };
        let mut bind = match (source, &self.mode) {
            (None, None) => return None,
            (None, Some(_)) => self.target.clone(),
            (Some(source), _) => format!("{source}:{}", self.target),
        };
        if let Some(mode) = &self.mode {
            bind.push(':');
            bind.push_str(mode);
        }
        Some(bind)
    }
}

// ---------------------------------------------------------------------------
// Applying to bollard's models.

impl RunOptions {
    /// Fills `config` (and its `host_config`, created if needed) with these
    /// options, keeping what is already there (see the module docs).
    /// `network_aliases` are not applied: they belong to the network endpoint.
    pub fn apply(&self, config: &mut ContainerCreateBody) {
        if let Some(health) = self.health_config(config.healthcheck.take()) {
            config.healthcheck = Some(health);
        }
        extend(&mut config.env, &self.env);
        if let Some(entrypoint) = &self.entrypoint {
            config.entrypoint = Some(vec![entrypoint.clone()]);
        }
        set(&mut config.user, &self.user);
        set(&mut config.working_dir, &self.workdir);
        set(&mut config.hostname, &self.hostname);
        set(&mut config.stop_signal, &self.stop_signal);
        if self.stop_timeout.is_some() {
            config.stop_timeout = self.stop_timeout;
        }
        if !self.labels.is_empty() {
            config.labels.get_or_insert_with(Default::default).extend(
                self.labels
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone())),
            );
        }
        apply_ports(&self.ports, config);
        apply_volumes(&self.volumes, config);
        with_host_config(config, |host| self.apply_host_config(host));
    }

    /// The health check to set, merged over `existing`; `None` when no
    /// health option was given.
    fn health_config(&self, existing: Option<HealthConfig>) -> Option<HealthConfig> {
        if self.no_healthcheck {
            return Some(HealthConfig {
                test: Some(vec!["NONE".to_string()]),
                ..Default::default()
            });
        }
        if self.health.is_empty() {
            return existing;
        }
        let mut health = existing.unwrap_or_default();
        if let Some(cmd) = &self.health.cmd {
            health.test = Some(vec!["CMD-SHELL".to_string(), cmd.clone()]);
        }
        let durations = [
            (&mut health.interval, self.health.interval),
            (&mut health.timeout, self.health.timeout),
            (&mut health.retries, self.health.retries),
            (&mut health.start_period, self.health.start_period),
            (&mut health.start_interval, self.health.start_interval),
        ];
        for (field, value) in durations {
            if value.is_some() {
                *field = value;
            }
        }
        Some(health)
    }

    fn apply_host_config(&self, host: &mut HostConfig) {
        let numbers = [
            (&mut host.nano_cpus, self.nano_cpus),
            (&mut host.cpu_shares, self.cpu_shares),
            (&mut host.memory, self.memory),
            (&mut host.memory_swap, self.memory_swap),
            (&mut host.memory_reservation, self.memory_reservation),
            (&mut host.shm_size, self.shm_size),
            (&mut host.pids_limit, self.pids_limit),
        ];
        for (field, value) in numbers {
            if value.is_some() {
                *field = value;
            }
        }
        let switches = [
            (&mut host.privileged, self.privileged),
            (&mut host.init, self.init),
            (&mut host.readonly_rootfs, self.read_only),
        ];
        for (field, value) in switches {
            if value.is_some() {
                *field = value;
            }
        }
        set(&mut host.cpuset_cpus, &self.cpuset_cpus);
        set(&mut host.ipc_mode, &self.ipc);
        extend(&mut host.cap_add, &self.cap_add);
        extend(&mut host.cap_drop, &self.cap_drop);
        extend(&mut host.extra_hosts, &self.extra_hosts);
        extend(&mut host.security_opt, &self.security_opt);
        extend(&mut host.dns, &self.dns);
        extend(&mut host.dns_search, &self.dns_search);
        extend(&mut host.dns_options, &self.dns_options);
        extend(&mut host.group_add, &self.group_add);
        insert_all(&mut host.tmpfs, &self.tmpfs);
        insert_all(&mut host.sysctls, &self.sysctls);
        if !self.ulimits.is_empty() {
            let ulimits = host.ulimits.get_or_insert_with(Vec::new);
            for ulimit in &self.ulimits {
                ulimits.retain(|u| u.name.as_deref() != Some(ulimit.name.as_str()));
                ulimits.push(ResourcesUlimits {
                    name: Some(ulimit.name.clone()),
                    soft: Some(ulimit.soft),
                    hard: Some(ulimit.hard),
                });
            }
        }
        if !self.devices.is_empty() {
            host.devices
                .get_or_insert_with(Vec::new)
                .extend(self.devices.iter().map(|device| DeviceMapping {
                    path_on_host: Some(device.host_path.clone()),
                    path_in_container: Some(device.container_path.clone()),
                    cgroup_permissions: Some(device.permissions.clone()),
                }));
        }
    }
}

/// Publishes `ports` (the `ports:` list): exposes each container port and
/// binds it on the host. A port mapped twice gets two bindings.
pub fn apply_ports(ports: &[PortMapping], config: &mut ContainerCreateBody) {
    if ports.is_empty() {
        return;
    }
    let exposed = config.exposed_ports.get_or_insert_with(Vec::new);
    for port in ports {
        let key = port.key();
        if !exposed.contains(&key) {
            exposed.push(key);
        }
    }
    with_host_config(config, |host| {
        let bindings = host.port_bindings.get_or_insert_with(Default::default);
        for port in ports {
            bindings
                .entry(port.key())
                .or_default()
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: port.host_ip.clone(),
                    host_port: Some(port.host_port.map(|p| p.to_string()).unwrap_or_default()),
                });
        }
    });
}

/// Mounts `volumes` (the `volumes:` list): host paths, named volumes and
/// anonymous volumes with a mode go to `HostConfig.binds`, other anonymous
/// volumes to the container config's `volumes`.
pub fn apply_volumes(volumes: &[VolumeMount], config: &mut ContainerCreateBody) {
    let mut binds = Vec::new();
    for volume in volumes {
        match volume.bind() {
            Some(bind) => binds.push(bind),
            None => {
                let anonymous = config.volumes.get_or_insert_with(Vec::new);
                if !anonymous.contains(&volume.target) {
                    anonymous.push(volume.target.clone());
                }
            }
        }
    }
    if !binds.is_empty() {
        with_host_config(config, |host| extend(&mut host.binds, &binds));
    }
}

/// Runs `change` on the host config, creating it only if `change` sets
/// something.
fn with_host_config(config: &mut ContainerCreateBody, change: impl FnOnce(&mut HostConfig)) {
    let existed = config.host_config.is_some();
    let mut host = config.host_config.take().unwrap_or_default();
    change(&mut host);
    if existed || host != HostConfig::default() {
        config.host_config = Some(host);
    }
}

fn set(field: &mut Option<String>, value: &Option<String>) {
    if value.is_some() {
        field.clone_from(value);
    }
}

fn extend(field: &mut Option<Vec<String>>, values: &[String]) {
    if !values.is_empty() {
        field.get_or_insert_with(Vec::new).extend_from_slice(values);
    }
}

fn insert_all(
    field: &mut Option<std::collections::HashMap<String, String>>,
    values: &BTreeMap<String, String>,
) {
    if !values.is_empty() {
        field.get_or_insert_with(Default::default).extend(
            values
                .iter()
                .map(|(key, value)| (key.clone(), value.clone())),
        );
    }
}

// ---------------------------------------------------------------------------
// Splitting `options:` into words.

/// Splits `input` into words like a POSIX shell, without expanding anything:
/// whitespace separates words; `'…'` is literal; in `"…"` a backslash escapes
/// only `$`, `` ` ``, `"`, `\` and a newline; elsewhere a backslash escapes
/// any character; a backslash before a newline joins the lines.
fn split_words(input: &str) -> Result<Vec<String>, OptionsError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(OptionsError::UnterminatedQuote { quote: '\'' }),
                        Some('\'') => break,
                        Some(c) => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        None => return Err(OptionsError::UnterminatedQuote { quote: '"' }),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            None => return Err(OptionsError::UnterminatedQuote { quote: '"' }),
                            Some('\n') => {}
                            Some(c @ ('$' | '`' | '"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        Some(c) => word.push(c),
                    }
                }
            }
            '\\' => match chars.next() {
                None => return Err(OptionsError::TrailingBackslash),
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

// ---------------------------------------------------------------------------
// The flags.

/// What a flag sets. A flag is a switch (takes no separate value) or takes a
/// value; see [`Id::is_switch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Id {
    HealthCmd,
    HealthInterval,
    HealthTimeout,
    HealthRetries,
    HealthStartPeriod,
    HealthStartInterval,
    NoHealthcheck,
    Env,
    Entrypoint,
    User,
    Workdir,
    Hostname,
    NetworkAlias,
    Cpus,
    CpuShares,
    CpusetCpus,
    Memory,
    MemorySwap,
    MemoryReservation,
    ShmSize,
    Privileged,
    CapAdd,
    CapDrop,
    AddHost,
    Tmpfs,
    Volume,
    Init,
    ReadOnly,
    Label,
    Ulimit,
    SecurityOpt,
    Dns,
    DnsSearch,
    DnsOption,
    Ipc,
    PidsLimit,
    Publish,
    Sysctl,
    GroupAdd,
    Device,
    StopSignal,
    StopTimeout,
    Rm,
}

impl Id {
    fn is_switch(self) -> bool {
        matches!(
            self,
            Id::NoHealthcheck | Id::Privileged | Id::Init | Id::ReadOnly | Id::Rm
        )
    }
}

struct Flag {
    long: &'static str,
    short: Option<&'static str>,
    id: Id,
}

const fn long(long: &'static str, id: Id) -> Flag {
    Flag {
        long,
        short: None,
        id,
    }
}

const fn both(long: &'static str, short: &'static str, id: Id) -> Flag {
    Flag {
        long,
        short: Some(short),
        id,
    }
}

/// Every supported flag.
const FLAGS: &[Flag] = &[
    long("--health-cmd", Id::HealthCmd),
    long("--health-interval", Id::HealthInterval),
    long("--health-timeout", Id::HealthTimeout),
    long("--health-retries", Id::HealthRetries),
    long("--health-start-period", Id::HealthStartPeriod),
    long("--health-start-interval", Id::HealthStartInterval),
    long("--no-healthcheck", Id::NoHealthcheck),
    both("--env", "-e", Id::Env),
    long("--entrypoint", Id::Entrypoint),
    both("--user", "-u", Id::User),
    both("--workdir", "-w", Id::Workdir),
    both("--hostname", "-h", Id::Hostname),
    long("--network-alias", Id::NetworkAlias),
    long("--cpus", Id::Cpus),
    both("--cpu-shares", "-c", Id::CpuShares),
    long("--cpuset-cpus", Id::CpusetCpus),
    both("--memory", "-m", Id::Memory),
    long("--memory-swap", Id::MemorySwap),
    long("--memory-reservation", Id::MemoryReservation),
    long("--shm-size", Id::ShmSize),
    long("--privileged", Id::Privileged),
    long("--cap-add", Id::CapAdd),
    long("--cap-drop", Id::CapDrop),
    long("--add-host", Id::AddHost),
    long("--tmpfs", Id::Tmpfs),
    both("--volume", "-v", Id::Volume),
    long("--init", Id::Init),
    long("--read-only", Id::ReadOnly),
    both("--label", "-l", Id::Label),
    long("--ulimit", Id::Ulimit),
    long("--security-opt", Id::SecurityOpt),
    long("--dns", Id::Dns),
    long("--dns-search", Id::DnsSearch),
    long("--dns-option", Id::DnsOption),
    long("--ipc", Id::Ipc),
    long("--pids-limit", Id::PidsLimit),
    both("--publish", "-p", Id::Publish),
    long("--sysctl", Id::Sysctl),
    long("--group-add", Id::GroupAdd),
    long("--device", Id::Device),
    long("--stop-signal", Id::StopSignal),
    long("--stop-timeout", Id::StopTimeout),
    long("--rm", Id::Rm),
];

/// Flags Docker has that Gantry refuses, and why.
const REFUSED: &[(&str, &str)] = &[
    (
        "--name",
        "gantry names its containers itself; to reach this container under another name, use `--network-alias NAME`",
    ),
    (
        "--network",
        "gantry puts every container on the job's network itself; to give this container another name on that network, use `--network-alias NAME`",
    ),
    (
        "--net",
        "gantry puts every container on the job's network itself; to give this container another name on that network, use `--network-alias NAME`",
    ),
    (
        "--env-file",
        "gantry does not read env files for containers; set the variables with `env:` instead",
    ),
    (
        "--platform",
        "gantry runs images for the Docker host's platform; use an image tag or digest built for it",
    ),
];

fn find_flag(name: &str) -> Option<&'static Flag> {
    FLAGS
        .iter()
        .find(|flag| flag.long == name || flag.short == Some(name))
}

fn refusal(name: &str) -> Option<&'static str> {
    REFUSED
        .iter()
        .find(|(flag, _)| *flag == name)
        .map(|(_, reason)| *reason)
}

/// A word read as a flag: the flag's name as written (`--env`, `-e`) and the
/// value attached to it (`--env=A=1`, `-e=A=1`, `-eA=1`), if any.
struct FlagWord<'a> {
    name: &'a str,
    attached: Option<&'a str>,
}

/// Reads `word` as a flag; `None` if it is not one (`x`, `-`, `--`).
fn flag_word(word: &str) -> Option<FlagWord<'_>> {
    if let Some(rest) = word.strip_prefix("--") {
        if rest.is_empty() {
            return None;
        }
        return Some(match word.split_once('=') {
            Some((name, value)) => FlagWord {
                name,
                attached: Some(value),
            },
            None => FlagWord {
                name: word,
                attached: None,
            },
        });
    }
    let rest = word.strip_prefix('-')?;
    let first = rest.chars().next()?;
    let split = 1 + first.len_utf8();
    let (name, value) = word.split_at(split);
    let attached = if value.is_empty() {
        None
    } else {
        Some(value.strip_prefix('=').unwrap_or(value))
    };
    Some(FlagWord { name, attached })
}

/// Whether `word` names a flag Gantry knows (supported or refused), so that it
/// is not taken as the value of the flag before it.
fn is_known_flag(word: &str) -> bool {
    flag_word(word)
        .is_some_and(|flag| find_flag(flag.name).is_some() || refusal(flag.name).is_some())
}

/// What came just before the current word, for hints about unquoted values.
enum Previous<'a> {
    /// The value of this flag, taken from its own word.
    Value { flag: &'a str, value: &'a str },
    /// This switch, without a value.
    Switch { flag: &'a str },
}

/// Parses an `options:` string (the `docker create` flags of a job container
/// or a service) into [`RunOptions`].
pub fn parse_options(options: &str) -> Result<RunOptions, OptionsError> {
    let words = split_words(options)?;
    let mut run = RunOptions::default();
    let mut first_health_flag: Option<String> = None;
    let mut previous: Option<Previous<'_>> = None;
    let mut index = 0;
    while let Some(word) = words.get(index) {
        index += 1;
        let Some(flag_word) = flag_word(word) else {
            return Err(not_a_flag(word, previous.as_ref()));
        };
        let name = flag_word.name;
        if let Some(reason) = refusal(name) {
            return Err(OptionsError::Unsupported {
                flag: name.to_string(),
                reason,
            });
        }
        let Some(flag) = find_flag(name) else {
            return Err(unknown_flag(word, &flag_word, previous.as_ref()));
        };
        // `-health-cmd` would read as `-h ealth-cmd`: catch the typo instead.
        if !name.starts_with("--") && flag_word.attached.is_some() {
            let doubled = format!("-{}", word.split('=').next().unwrap_or(word));
            if let Some(meant) = find_flag(&doubled) {
                return Err(OptionsError::UnknownFlag {
                    flag: word.split('=').next().unwrap_or(word).to_string(),
                    hint: format!(" (did you mean `{}`?)", meant.long),
                });
            }
        }
        let value: &str = if flag.id.is_switch() {
            previous = match flag_word.attached {
                None => Some(Previous::Switch { flag: name }),
                Some(_) => None,
            };
            flag_word.attached.unwrap_or("true")
        } else if let Some(value) = flag_word.attached {
            previous = None;
            value
        } else {
            match words.get(index) {
                Some(value) if !is_known_flag(value) => {
                    index += 1;
                    previous = Some(Previous::Value { flag: name, value });
                    value
                }
                _ => {
                    return Err(OptionsError::MissingValue {
                        flag: name.to_string(),
                    });
                }
            }
        };
        if matches!(
            flag.id,
            Id::HealthCmd
                | Id::HealthInterval
                | Id::HealthTimeout
                | Id::HealthRetries
                | Id::HealthStartPeriod
                | Id::HealthStartInterval
        ) && first_health_flag.is_none()
        {
            first_health_flag = Some(name.to_string());
        }
        set_flag(&mut run, flag.id, value).map_err(|expected| OptionsError::InvalidValue {
            flag: name.to_string(),
            value: value.to_string(),
            expected,
        })?;
    }
    if run.no_healthcheck
        && let Some(flag) = first_health_flag
    {
        return Err(OptionsError::HealthConflict { flag });
    }
    Ok(run)
}

fn unknown_flag(
    word: &str,
    flag_word: &FlagWord<'_>,
    previous: Option<&Previous<'_>>,
) -> OptionsError {
    // A single-dash word is unknown because of its first letter (`-x…`), a
    // double-dash one as a whole (`--xyz`, even with `=value`).
    let flag = if flag_word.name.starts_with("--") {
        flag_word.name
    } else {
        word.split('=').next().unwrap_or(word)
    };
    let suggestion = closest_flag(flag);
    let hint = match (suggestion, previous) {
        (Some(meant), _) => format!(" (did you mean `{meant}`?)"),
        (
            None,
            Some(Previous::Value {
                flag: before,
                value,
            }),
        ) => format!(
            ": if it is part of the value of `{before}`, put the whole value in quotes, as in `{before} \"{value} {word} …\"`"
        ),
        (None, _) => ": gantry does not support this `docker create` flag, remove it".to_string(),
    };
    OptionsError::UnknownFlag {
        flag: flag.to_string(),
        hint,
    }
}

fn not_a_flag(word: &str, previous: Option<&Previous<'_>>) -> OptionsError {
    let hint = match previous {
        Some(Previous::Value { flag, value }) => format!(
            "if it is part of the value of `{flag}`, put the whole value in quotes, as in `{flag} \"{value} {word}\"`"
        ),
        Some(Previous::Switch { flag }) if parse_bool(word).is_some() => format!(
            "`{flag}` takes no separate value: write `{flag}` or `{flag}={word}`"
        ),
        _ => "`options:` holds only `docker create` flags such as `--health-cmd`; the image comes from `image:`".to_string(),
    };
    OptionsError::NotAFlag {
        word: word.to_string(),
        hint,
    }
}

/// The supported flag closest to `flag`, if one is close enough to be a typo.
fn closest_flag(flag: &str) -> Option<&'static str> {
    const MAX_LEN: usize = 64;
    let count = flag.chars().count();
    // Every one-letter flag is one edit from every other one.
    if count <= 2 || count > MAX_LEN {
        return None;
    }
    let lower = flag.to_ascii_lowercase();
    let mut best: Option<(usize, &'static str)> = None;
    for candidate in FLAGS.iter().map(|f| f.long) {
        let distance = edit_distance(&lower, candidate);
        if distance <= 2 && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance over chars: insertions, deletions,
/// substitutions and swaps of neighbours each cost 1.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between a[..i] and b[..j].
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

// ---------------------------------------------------------------------------
// Flag values. Each setter returns what was expected when the value is bad.

/// Reserved for the labels gantry uses to find and clean up its containers.
const RESERVED_LABEL_PREFIX: &str = "org.gantry.";

const EXPECTED_DURATION: &str = "expected a duration such as `10s`, `1m30s` or `500ms`";
const EXPECTED_SIZE: &str = "expected a size such as `512m` or `1g` (a plain number is in bytes)";

fn set_flag(run: &mut RunOptions, id: Id, value: &str) -> Result<(), String> {
    match id {
        Id::HealthCmd => {
            run.health.cmd = Some(non_empty(
                value,
                "expected a shell command such as `pg_isready`, quoted if it has spaces",
            )?);
        }
        Id::HealthInterval => run.health.interval = Some(duration(value)?),
        Id::HealthTimeout => run.health.timeout = Some(duration(value)?),
        Id::HealthRetries => run.health.retries = Some(count(value)?),
        Id::HealthStartPeriod => run.health.start_period = Some(duration(value)?),
        Id::HealthStartInterval => run.health.start_interval = Some(duration(value)?),
        Id::NoHealthcheck => run.no_healthcheck = switch(value)?,
        Id::Env => run.env.push(env(value)?),
        Id::Entrypoint => run.entrypoint = Some(value.to_string()),
        Id::User => {
            run.user = Some(non_empty(
                value,
                "expected a user name or id, such as `1000` or `postgres:postgres`",
            )?)
        }
        Id::Workdir => {
            if !value.starts_with('/') {
                return Err(
                    "expected an absolute path inside the container, such as `/app`".to_string(),
                );
            }
            run.workdir = Some(value.to_string());
        }
        Id::Hostname => run.hostname = Some(word(value, "expected a host name such as `db`")?),
        Id::NetworkAlias => run
            .network_aliases
            .push(word(value, "expected a name such as `db`")?),
        Id::Cpus => run.nano_cpus = Some(nano_cpus(value)?),
        Id::CpuShares => run.cpu_shares = Some(count(value)?),
        Id::CpusetCpus => {
            let valid = !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == ',');
            if !valid {
                return Err("expected CPU numbers and ranges such as `0-3` or `0,2`".to_string());
            }
            run.cpuset_cpus = Some(value.to_string());
        }
        Id::Memory => run.memory = Some(size(value)?),
        Id::MemorySwap => {
            run.memory_swap = Some(if value == "-1" {
                -1
            } else {
                size(value).map_err(|e| format!("{e}, or `-1` for unlimited swap"))?
            });
        }
        Id::MemoryReservation => run.memory_reservation = Some(size(value)?),
        Id::ShmSize => run.shm_size = Some(size(value)?),
        Id::Privileged => run.privileged = Some(switch(value)?),
        Id::CapAdd => run.cap_add.push(capability(value)?),
        Id::CapDrop => run.cap_drop.push(capability(value)?),
        Id::AddHost => run.extra_hosts.push(extra_host(value)?),
        Id::Tmpfs => {
            let (path, mount_options) = value.split_once(':').unwrap_or((value, ""));
            if !path.starts_with('/') {
                return Err("expected an absolute path inside the container, optionally followed by `:` and mount options, such as `/run:size=64m`".to_string());
            }
            run.tmpfs
                .insert(path.to_string(), mount_options.to_string());
        }
        Id::Volume => run.volumes.push(parse_volume(value).map_err(problem)?),
        Id::Init => run.init = Some(switch(value)?),
        Id::ReadOnly => run.read_only = Some(switch(value)?),
        Id::Label => {
            let (key, label) = value.split_once('=').unwrap_or((value, ""));
            if key.is_empty() {
                return Err("expected `KEY=VALUE`".to_string());
            }
            if key.starts_with(RESERVED_LABEL_PREFIX) {
                return Err(format!(
                    "labels starting with `{RESERVED_LABEL_PREFIX}` are reserved for gantry's own bookkeeping; choose another key"
                ));
            }
            run.labels.insert(key.to_string(), label.to_string());
        }
        Id::Ulimit => {
            let ulimit = ulimit(value)?;
            run.ulimits.retain(|u| u.name != ulimit.name);
            run.ulimits.push(ulimit);
        }
        Id::SecurityOpt => run.security_opt.push(security_opt(value)?),
        Id::Dns => {
            if value.parse::<IpAddr>().is_err() {
                return Err("expected an IP address such as `8.8.8.8`".to_string());
            }
            run.dns.push(value.to_string());
        }
        Id::DnsSearch => run
            .dns_search
            .push(word(value, "expected a domain such as `example.com`")?),
        Id::DnsOption => run
            .dns_options
            .push(word(value, "expected a resolver option such as `ndots:2`")?),
        Id::Ipc => run.ipc = Some(ipc(value)?),
        Id::PidsLimit => {
            let limit = value
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= -1)
                .ok_or("expected a number of processes, or `-1` for unlimited")?;
            run.pids_limit = Some(limit);
        }
        Id::Publish => run.ports.push(parse_port(value).map_err(problem)?),
        Id::Sysctl => {
            let (key, setting) = value
                .split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .ok_or("expected `NAME=VALUE`, such as `net.core.somaxconn=1024`")?;
            run.sysctls.insert(key.to_string(), setting.to_string());
        }
        Id::GroupAdd => run
            .group_add
            .push(word(value, "expected a group name or id")?),
        Id::Device => run.devices.push(device(value)?),
        Id::StopSignal => {
            run.stop_signal = Some(word(value, "expected a signal such as `SIGTERM`")?)
        }
        Id::StopTimeout => {
            let seconds = value
                .parse::<i64>()
                .map_err(|_| "expected a number of seconds such as `10`")?;
            run.stop_timeout = Some(seconds);
        }
        Id::Rm => {
            // Gantry removes its containers anyway; only check the value.
            switch(value)?;
        }
    }
    Ok(())
}

/// The problem part of a port or volume error, for the `-p`/`-v` message.
fn problem(error: OptionsError) -> String {
    match error {
        OptionsError::InvalidPort { problem, .. } | OptionsError::InvalidVolume { problem, .. } => {
            problem
        }
        other => other.to_string(),
    }
}

fn non_empty(value: &str, expected: &str) -> Result<String, String> {
    if value.is_empty() {
        Err(expected.to_string())
    } else {
        Ok(value.to_string())
    }
}

/// A non-empty value without whitespace.
fn word(value: &str, expected: &str) -> Result<String, String> {
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        Err(expected.to_string())
    } else {
        Ok(value.to_string())
    }
}

/// Go's `strconv.ParseBool`, which Docker's switches accept after `=`.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn switch(value: &str) -> Result<bool, String> {
    parse_bool(value).ok_or_else(|| "expected `true` or `false`".to_string())
}

fn count(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| "expected a whole number such as `5`".to_string())
}

fn env(value: &str) -> Result<String, String> {
    let name = value.split_once('=').map_or(value, |(name, _)| name);
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(
            "expected `NAME=value` (or a bare `NAME` to remove it from the image's environment)"
                .to_string(),
        );
    }
    Ok(value.to_string())
}

fn capability(value: &str) -> Result<String, String> {
    let valid = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(value.to_string())
    } else {
        Err("expected a capability such as `NET_ADMIN` or `ALL`".to_string())
    }
}

/// `host:ip` or `host=ip`, written back as Docker's `host:ip`.
fn extra_host(value: &str) -> Result<String, String> {
    const EXPECTED: &str =
        "expected `HOST:IP`, such as `db.local:10.0.0.5` or `host.docker.internal:host-gateway`";
    let (host, ip) = value
        .split_once('=')
        .or_else(|| value.split_once(':'))
        .ok_or(EXPECTED)?;
    let bare_ip = ip
        .strip_prefix('[')
        .and_then(|ip| ip.strip_suffix(']'))
        .unwrap_or(ip);
    let ip_ok = ip == "host-gateway" || bare_ip.parse::<IpAddr>().is_ok();
    if host.is_empty() || host.chars().any(char::is_whitespace) || !ip_ok {
        return Err(EXPECTED.to_string());
    }
    Ok(format!("{host}:{bare_ip}"))
}

fn ulimit(value: &str) -> Result<Ulimit, String> {
    const NAMES: &[&str] = &[
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    const EXPECTED: &str = "expected `NAME=SOFT[:HARD]`, such as `nofile=1024:2048`";
    let (name, limits) = value.split_once('=').ok_or(EXPECTED)?;
    if !NAMES.contains(&name) {
        return Err(format!(
            "unknown limit `{name}`: use one of {}",
            NAMES
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let limit = |text: &str| {
        text.parse::<i64>()
            .ok()
            .filter(|n| *n >= -1)
            .ok_or_else(|| EXPECTED.to_string())
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((soft, hard)) => (limit(soft)?, limit(hard)?),
        None => {
            let soft = limit(limits)?;
            (soft, soft)
        }
    };
    // -1 is unlimited, so it is the largest.
    let unlimited = |n: i64| if n == -1 { i64::MAX } else { n };
    if unlimited(soft) > unlimited(hard) {
        return Err(format!(
            "the soft limit {soft} is above the hard limit {hard}: make SOFT at most HARD"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

fn security_opt(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(
            "expected an option such as `no-new-privileges` or `apparmor=unconfined`".to_string(),
        );
    }
    // The docker CLI reads `seccomp=FILE` from the client's disk and sends the
    // profile itself; the engine API only takes the profile's JSON.
    if let Some(profile) = value
        .strip_prefix("seccomp=")
        .or_else(|| value.strip_prefix("seccomp:"))
        && !matches!(profile, "unconfined" | "builtin")
        && !profile.trim_start().starts_with('{')
    {
        return Err("a seccomp profile file cannot be read here: use `seccomp=unconfined`, or the profile's JSON itself".to_string());
    }
    Ok(value.to_string())
}

fn ipc(value: &str) -> Result<String, String> {
    let valid = matches!(value, "none" | "private" | "shareable" | "host")
        || value
            .strip_prefix("container:")
            .is_some_and(|name| !name.is_empty());
    if valid {
        Ok(value.to_string())
    } else {
        Err("expected `private`, `shareable`, `host`, `none` or `container:NAME`".to_string())
    }
}

fn device(value: &str) -> Result<Device, String> {
    const EXPECTED: &str = "expected `/dev/HOST[:/dev/CONTAINER][:PERMISSIONS]`, such as `/dev/fuse` or `/dev/sda:/dev/xvdc:r`";
    let is_permissions = |text: &str| {
        !text.is_empty() && text.len() <= 3 && text.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
    };
    let parts: Vec<&str> = value.split(':').collect();
    let (host, container, permissions) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, permissions] if is_permissions(permissions) => (*host, *host, *permissions),
        [host, container] => (*host, *container, "rwm"),
        [host, container, permissions] if is_permissions(permissions) => {
            (*host, *container, *permissions)
        }
        _ => return Err(EXPECTED.to_string()),
    };
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(EXPECTED.to_string());
    }
    Ok(Device {
        host_path: host.to_string(),
        container_path: container.to_string(),
        permissions: permissions.to_string(),
    })
}

/// A decimal number `digits[.digits]`: its whole part and its fractional
/// digits. `None` if it is not one.
fn decimal(text: &str) -> Option<(&str, &str)> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let valid = (!whole.is_empty() || !fraction.is_empty()) && digits(whole) && digits(fraction);
    valid.then_some((whole, fraction))
}

/// `whole.fraction × unit`, truncated; `None` on overflow.
fn scale(whole: &str, fraction: &str, unit: u128) -> Option<i64> {
    let whole_part = if whole.is_empty() {
        0
    } else {
        whole.parse::<u128>().ok()?.checked_mul(unit)?
    };
    // Digits past the 18th change the result by less than one unit of the
    // smallest multiplier used here.
    let fraction = &fraction[..fraction.len().min(18)];
    let fraction_part = if fraction.is_empty() {
        0
    } else {
        let numerator = fraction.parse::<u128>().ok()?;
        let denominator = 10u128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
        numerator.checked_mul(unit)? / denominator
    };
    i64::try_from(whole_part.checked_add(fraction_part)?).ok()
}

/// A Go duration (`10s`, `1m30s`, `500ms`, `1.5h`) in nanoseconds, as the
/// `--health-*` flags take it: not negative, and 0 or at least 1ms (the
/// engine's minimum).
fn duration(value: &str) -> Result<i64, String> {
    if value.starts_with('-') {
        return Err("a duration cannot be negative".to_string());
    }
    if value == "0" {
        return Ok(0);
    }
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("add a unit, such as `{value}s`"));
    }
    let mut rest = value.strip_prefix('+').unwrap_or(value);
    if rest.is_empty() {
        return Err(EXPECTED_DURATION.to_string());
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(EXPECTED_DURATION.to_string()),
        };
        let (whole, fraction) = decimal(number).ok_or(EXPECTED_DURATION)?;
        let part = scale(whole, fraction, nanos).ok_or("the duration is too long")?;
        total = total.checked_add(part).ok_or("the duration is too long")?;
        rest = after;
    }
    if total > 0 && total < 1_000_000 {
        return Err("use 0 or at least `1ms`".to_string());
    }
    Ok(total)
}

/// A size in bytes like Docker's: `512`, `512k`, `64m`, `1g`, `1.5GB`, `2GiB`
/// (binary multiples, any case, optional `i` and `b`).
fn size(value: &str) -> Result<i64, String> {
    let lower = value.to_ascii_lowercase();
    let text = lower.strip_suffix('b').unwrap_or(&lower);
    let text = text.strip_suffix('i').unwrap_or(text);
    let (number, multiplier) = match text.strip_suffix(['k', 'm', 'g', 't', 'p']) {
        Some(number) => {
            let power = match text.chars().last() {
                Some('k') => 1,
                Some('m') => 2,
                Some('g') => 3,
                Some('t') => 4,
                _ => 5,
            };
            (number, 1024u128.pow(power))
        }
        None => (text, 1),
    };
    let (whole, fraction) = decimal(number).ok_or(EXPECTED_SIZE)?;
    scale(whole, fraction, multiplier).ok_or_else(|| "the size is too large".to_string())
}

/// `--cpus` (`1.5`) in billionths of a CPU, exactly.
fn nano_cpus(value: &str) -> Result<i64, String> {
    const EXPECTED: &str = "expected a number of CPUs such as `2` or `1.5`";
    let (whole, fraction) = decimal(value).ok_or(EXPECTED)?;
    if fraction.len() > 9 {
        return Err("too precise: use at most 9 decimal places".to_string());
    }
    scale(whole, fraction, 1_000_000_000).ok_or_else(|| EXPECTED.to_string())
}

// ---------------------------------------------------------------------------
// `ports:` and `volumes:`.

const PORT_FORMS: &str = "write `80`, `8080:80`, `127.0.0.1:8080:80` or `127.0.0.1::80`, optionally followed by `/tcp` or `/udp`";

/// Parses a `ports:` entry or the value of `-p`: `5432` (a random host
/// port), `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80`, `[::1]:8080:80`,
/// each optionally followed by `/tcp`, `/udp` or `/sctp`.
pub fn parse_port(spec: &str) -> Result<PortMapping, OptionsError> {
    let bad = |problem: String| OptionsError::InvalidPort {
        spec: spec.to_string(),
        problem,
    };
    let text = spec.trim();
    let (text, protocol) = match text.rsplit_once('/') {
        None => (text, Protocol::Tcp),
        Some((text, protocol)) => {
            let protocol = match protocol.to_ascii_lowercase().as_str() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                "sctp" => Protocol::Sctp,
                _ => {
                    return Err(bad(format!(
                        "unknown protocol `{protocol}`: use `/tcp` or `/udp`"
                    )));
                }
            };
            (text, protocol)
        }
    };
    // A bracketed IPv6 host address: `[::1]:8080:80`.
    let (host_ip, rest) = match text.strip_prefix('[') {
        Some(after) => {
            let (ip, rest) = after.split_once("]:").ok_or_else(|| {
                bad(format!(
                    "an IPv6 address needs a host and container port after it: {PORT_FORMS}"
                ))
            })?;
            (Some(ip), rest)
        }
        None => (None, text),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (host_ip, host_port, container_port) = match (host_ip, parts.as_slice()) {
        (None, [container]) => (None, "", *container),
        (None, [host, container]) => (None, *host, *container),
        (None, [ip, host, container]) => (Some(*ip), *host, *container),
        (Some(ip), [host, container]) => (Some(ip), *host, *container),
        (None, _) if parts.len() > 3 => {
            return Err(bad(format!(
                "too many `:`: {PORT_FORMS}; put an IPv6 address in brackets, as in `[::1]:8080:80`"
            )));
        }
        _ => return Err(bad(format!("too many `:`: {PORT_FORMS}"))),
    };
    let host_ip = host_ip.filter(|ip| !ip.is_empty());
    if let Some(ip) = host_ip
        && ip.parse::<IpAddr>().is_err()
    {
        return Err(bad(format!("`{ip}` is not an IP address: {PORT_FORMS}")));
    }
    let number = |text: &str, side: &str| -> Result<u16, OptionsError> {
        if text.contains('-') {
            return Err(bad(
                "port ranges are not supported: map each port on its own".to_string(),
            ));
        }
        text.parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| {
                bad(if text.is_empty() {
                    format!("the {side} port is missing: {PORT_FORMS}")
                } else {
                    format!("`{text}` is not a {side} port (1-65535): {PORT_FORMS}")
                })
            })
    };
    let container_port = number(container_port, "container")?;
    let host_port = if host_port.is_empty() {
        None
    } else {
        Some(number(host_port, "host")?)
    };
    Ok(PortMapping {
        host_ip: host_ip.map(str::to_string),
        host_port,
        container_port,
        protocol,
    })
}

const VOLUME_FORMS: &str = "write `/container/path`, `name:/container/path` or `/host/path:/container/path`, optionally followed by `:ro`";

/// Parses a `volumes:` entry or the value of `-v`: `/container/path` (an
/// anonymous volume), `name:/container/path` (a named volume) or
/// `/host/path:/container/path`, optionally followed by `:MODE` (`ro`, `rw`,
/// or other comma-separated flags, kept as written).
pub fn parse_volume(spec: &str) -> Result<VolumeMount, OptionsError> {
    let bad = |problem: String| OptionsError::InvalidVolume {
        spec: spec.to_string(),
        problem,
    };
    let text = spec.trim();
    if text.is_empty() {
        return Err(bad(format!("it is empty: {VOLUME_FORMS}")));
    }
    let parts: Vec<&str> = text.split(':').collect();
    // `C:\src:/src`: a drive letter, then a path, then the target.
    if let [drive, path, _, ..] = parts.as_slice()
        && drive.len() == 1
        && drive.chars().all(|c| c.is_ascii_alphabetic())
        && (path.starts_with('\\') || path.starts_with('/'))
    {
        return Err(bad(
            "Windows paths are not supported: gantry runs Linux containers, write a path starting with `/`".to_string(),
        ));
    }
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        // A container path is absolute, so `X:/path` is a source and a
        // target, and `/path:X` a target and a mode.
        [source, target] if target.starts_with('/') => (Some(*source), *target, None),
        [target, mode] => (None, *target, Some(*mode)),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => return Err(bad(format!("too many `:`: {VOLUME_FORMS}"))),
    };
    let source = match source {
        None => VolumeSource::Anonymous,
        Some(source) => volume_source(source).map_err(bad)?,
    };
    if !target.starts_with('/') {
        return Err(bad(format!(
            "the container path `{target}` must be absolute (start with `/`): {VOLUME_FORMS}"
        )));
    }
    if target.trim_end_matches('/').is_empty() {
        return Err(bad(
            "the container path cannot be `/`: mount at a directory such as `/data`".to_string(),
        ));
    }
    if let Some(mode) = mode {
        let valid = mode
            .split(',')
            .all(|flag| !flag.is_empty() && flag.chars().all(|c| c.is_ascii_alphanumeric()));
        if !valid {
            return Err(bad(format!(
                "`{mode}` is not a mount mode: use `ro` or `rw`, with other comma-separated flags such as `z` if needed"
            )));
        }
    }
    Ok(VolumeMount {
        source,
        target: target.to_string(),
        mode: mode.map(str::to_string),
    })
}

fn volume_source(source: &str) -> Result<VolumeSource, String> {
    if source.starts_with('/') {
        return Ok(VolumeSource::HostPath(source.to_string()));
    }
    if source.is_empty() {
        return Err(format!("the part before `:` is empty: {VOLUME_FORMS}"));
    }
    if source.starts_with('~') {
        return Err(format!(
            "`~` is not expanded in `{source}`: write the host path in full, starting with `/`"
        ));
    }
    if let Some(inside) = source.strip_prefix("./") {
        return Err(format!(
            "the host path `{source}` is relative: use an absolute path, such as `${{{{ github.workspace }}}}/{inside}`, or a named volume"
        ));
    }
    if source.starts_with('.') || source.contains('/') {
        return Err(format!(
            "the host path `{source}` is relative: use an absolute path or a named volume"
        ));
    }
    let mut chars = source.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !first_ok || !rest_ok || source.len() < 2 {
        return Err(format!(
            "`{source}` is not a volume name: use at least two letters, digits, `_`, `.` or `-`, starting with a letter or digit"
        ));
    }
    Ok(VolumeSource::Named(source.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// The container-create body, as JSON, after applying `options` to an
    /// empty one.
    fn applied(options: &str) -> Value {
        let run =
            parse_options(options).unwrap_or_else(|e| panic!("`{options}` should parse, got: {e}"));
        let mut body = ContainerCreateBody::default();
        run.apply(&mut body);
        serde_json::to_value(&body).unwrap_or_else(|e| panic!("serialize: {e}"))
    }

    fn error(options: &str) -> String {
        match parse_options(options) {
            Ok(run) => panic!("`{options}` should fail, got {run:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// `value` as one shell word.
    fn quoted(value: &str) -> String {
        format!("'{}'", value.replace('\'', r"'\''"))
    }

    /// A flag taking a value: its spellings, a value, and the body it gives.
    struct ValueCase {
        flags: &'static [&'static str],
        value: &'static str,
        body: Value,
    }

    fn value_cases() -> Vec<ValueCase> {
        let case = |flags, value, body| ValueCase { flags, value, body };
        vec![
            case(
                &["--health-cmd"],
                "pg_isready -U postgres",
                json!({"Healthcheck": {"Test": ["CMD-SHELL", "pg_isready -U postgres"]}}),
            ),
            case(
                &["--health-interval"],
                "1m30s",
                json!({"Healthcheck": {"Interval": 90_000_000_000_i64}}),
            ),
            case(
                &["--health-timeout"],
                "500ms",
                json!({"Healthcheck": {"Timeout": 500_000_000}}),
            ),
            case(
                &["--health-retries"],
                "5",
                json!({"Healthcheck": {"Retries": 5}}),
            ),
            case(
                &["--health-start-period"],
                "2.5s",
                json!({"Healthcheck": {"StartPeriod": 2_500_000_000_i64}}),
            ),
            case(
                &["--health-start-interval"],
                "1h",
                json!({"Healthcheck": {"StartInterval": 3_600_000_000_000_i64}}),
            ),
            case(
                &["-e", "--env"],
                "GREETING=hello world",
                json!({"Env": ["GREETING=hello world"]}),
            ),
            case(&["-e", "--env"], "A==b", json!({"Env": ["A==b"]})),
            case(&["-e", "--env"], "UNSET_ME", json!({"Env": ["UNSET_ME"]})),
            case(
                &["--entrypoint"],
                "/bin/sh -c",
                json!({"Entrypoint": ["/bin/sh -c"]}),
            ),
            case(&["--entrypoint"], "", json!({"Entrypoint": [""]})),
            case(&["-u", "--user"], "1000:1000", json!({"User": "1000:1000"})),
            case(&["-w", "--workdir"], "/app", json!({"WorkingDir": "/app"})),
            case(&["-h", "--hostname"], "db", json!({"Hostname": "db"})),
            // Aliases belong to the network endpoint, not the body.
            case(&["--network-alias"], "database", json!({})),
            case(
                &["--cpus"],
                "1.5",
                json!({"HostConfig": {"NanoCpus": 1_500_000_000}}),
            ),
            case(
                &["--cpus"],
                "2",
                json!({"HostConfig": {"NanoCpus": 2_000_000_000}}),
            ),
            case(
                &["--cpus"],
                ".25",
                json!({"HostConfig": {"NanoCpus": 250_000_000}}),
            ),
            case(
                &["--cpus"],
                "0.000000001",
                json!({"HostConfig": {"NanoCpus": 1}}),
            ),
            case(
                &["-c", "--cpu-shares"],
                "512",
                json!({"HostConfig": {"CpuShares": 512}}),
            ),
            case(
                &["--cpuset-cpus"],
                "0-3,5",
                json!({"HostConfig": {"CpusetCpus": "0-3,5"}}),
            ),
            case(
                &["-m", "--memory"],
                "512",
                json!({"HostConfig": {"Memory": 512}}),
            ),
            case(
                &["-m", "--memory"],
                "512k",
                json!({"HostConfig": {"Memory": 524_288}}),
            ),
            case(
                &["-m", "--memory"],
                "64m",
                json!({"HostConfig": {"Memory": 67_108_864}}),
            ),
            case(
                &["-m", "--memory"],
                "64MB",
                json!({"HostConfig": {"Memory": 67_108_864}}),
            ),
            case(
                &["-m", "--memory"],
                "1g",
                json!({"HostConfig": {"Memory": 1_073_741_824}}),
            ),
            case(
                &["-m", "--memory"],
                "1.5G",
                json!({"HostConfig": {"Memory": 1_610_612_736}}),
            ),
            case(
                &["-m", "--memory"],
                "2GiB",
                json!({"HostConfig": {"Memory": 2_147_483_648_i64}}),
            ),
            case(
                &["-m", "--memory"],
                "1t",
                json!({"HostConfig": {"Memory": 1_099_511_627_776_i64}}),
            ),
            case(
                &["-m", "--memory"],
                "100b",
                json!({"HostConfig": {"Memory": 100}}),
            ),
            case(
                &["--memory-swap"],
                "1g",
                json!({"HostConfig": {"MemorySwap": 1_073_741_824}}),
            ),
            case(
                &["--memory-swap"],
                "-1",
                json!({"HostConfig": {"MemorySwap": -1}}),
            ),
            case(
                &["--memory-reservation"],
                "256m",
                json!({"HostConfig": {"MemoryReservation": 268_435_456}}),
            ),
            case(
                &["--shm-size"],
                "2g",
                json!({"HostConfig": {"ShmSize": 2_147_483_648_i64}}),
            ),
            case(
                &["--cap-add"],
                "NET_ADMIN",
                json!({"HostConfig": {"CapAdd": ["NET_ADMIN"]}}),
            ),
            case(
                &["--cap-drop"],
                "ALL",
                json!({"HostConfig": {"CapDrop": ["ALL"]}}),
            ),
            case(
                &["--add-host"],
                "db.local:10.0.0.5",
                json!({"HostConfig": {"ExtraHosts": ["db.local:10.0.0.5"]}}),
            ),
            case(
                &["--add-host"],
                "db.local=10.0.0.5",
                json!({"HostConfig": {"ExtraHosts": ["db.local:10.0.0.5"]}}),
            ),
            case(
                &["--add-host"],
                "v6:::1",
                json!({"HostConfig": {"ExtraHosts": ["v6:::1"]}}),
            ),
            case(
                &["--add-host"],
                "v6=[::1]",
                json!({"HostConfig": {"ExtraHosts": ["v6:::1"]}}),
            ),
            case(
                &["--add-host"],
                "host.docker.internal:host-gateway",
                json!({"HostConfig": {"ExtraHosts": ["host.docker.internal:host-gateway"]}}),
            ),
            case(
                &["--tmpfs"],
                "/run:rw,size=64m",
                json!({"HostConfig": {"Tmpfs": {"/run": "rw,size=64m"}}}),
            ),
            case(
                &["--tmpfs"],
                "/tmp",
                json!({"HostConfig": {"Tmpfs": {"/tmp": ""}}}),
            ),
            case(
                &["-v", "--volume"],
                "/srv/data:/data:ro",
                json!({"HostConfig": {"Binds": ["/srv/data:/data:ro"]}}),
            ),
            case(
                &["-v", "--volume"],
                "cache:/cache",
                json!({"HostConfig": {"Binds": ["cache:/cache"]}}),
            ),
            case(
                &["-v", "--volume"],
                "/scratch",
                json!({"Volumes": {"/scratch": {}}}),
            ),
            case(
                &["-l", "--label"],
                "team=infra",
                json!({"Labels": {"team": "infra"}}),
            ),
            case(&["-l", "--label"], "flag", json!({"Labels": {"flag": ""}})),
            case(
                &["--ulimit"],
                "nofile=1024:2048",
                json!({"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]}}),
            ),
            case(
                &["--ulimit"],
                "nproc=64",
                json!({"HostConfig": {"Ulimits": [{"Name": "nproc", "Soft": 64, "Hard": 64}]}}),
            ),
            case(
                &["--ulimit"],
                "core=-1",
                json!({"HostConfig": {"Ulimits": [{"Name": "core", "Soft": -1, "Hard": -1}]}}),
            ),
            case(
                &["--security-opt"],
                "no-new-privileges",
                json!({"HostConfig": {"SecurityOpt": ["no-new-privileges"]}}),
            ),
            case(
                &["--security-opt"],
                "seccomp=unconfined",
                json!({"HostConfig": {"SecurityOpt": ["seccomp=unconfined"]}}),
            ),
            case(
                &["--dns"],
                "8.8.8.8",
                json!({"HostConfig": {"Dns": ["8.8.8.8"]}}),
            ),
            case(
                &["--dns"],
                "2001:4860:4860::8888",
                json!({"HostConfig": {"Dns": ["2001:4860:4860::8888"]}}),
            ),
            case(
                &["--dns-search"],
                "example.com",
                json!({"HostConfig": {"DnsSearch": ["example.com"]}}),
            ),
            case(
                &["--dns-option"],
                "ndots:2",
                json!({"HostConfig": {"DnsOptions": ["ndots:2"]}}),
            ),
            case(
                &["--ipc"],
                "host",
                json!({"HostConfig": {"IpcMode": "host"}}),
            ),
            case(
                &["--ipc"],
                "container:db",
                json!({"HostConfig": {"IpcMode": "container:db"}}),
            ),
            case(
                &["--pids-limit"],
                "100",
                json!({"HostConfig": {"PidsLimit": 100}}),
            ),
            case(
                &["--pids-limit"],
                "-1",
                json!({"HostConfig": {"PidsLimit": -1}}),
            ),
            case(
                &["-p", "--publish"],
                "127.0.0.1:8080:80/udp",
                json!({
                    "ExposedPorts": {"80/udp": {}},
                    "HostConfig": {"PortBindings": {"80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}},
                }),
            ),
            case(
                &["-p", "--publish"],
                "5432",
                json!({
                    "ExposedPorts": {"5432/tcp": {}},
                    "HostConfig": {"PortBindings": {"5432/tcp": [{"HostPort": ""}]}},
                }),
            ),
            case(
                &["--sysctl"],
                "net.core.somaxconn=1024",
                json!({"HostConfig": {"Sysctls": {"net.core.somaxconn": "1024"}}}),
            ),
            case(
                &["--group-add"],
                "audio",
                json!({"HostConfig": {"GroupAdd": ["audio"]}}),
            ),
            case(
                &["--device"],
                "/dev/fuse",
                json!({"HostConfig": {"Devices": [
                    {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}
                ]}}),
            ),
            case(
                &["--device"],
                "/dev/sda:/dev/xvdc:r",
                json!({"HostConfig": {"Devices": [
                    {"PathOnHost": "/dev/sda", "PathInContainer": "/dev/xvdc", "CgroupPermissions": "r"}
                ]}}),
            ),
            case(
                &["--device"],
                "/dev/snd:rw",
                json!({"HostConfig": {"Devices": [
                    {"PathOnHost": "/dev/snd", "PathInContainer": "/dev/snd", "CgroupPermissions": "rw"}
                ]}}),
            ),
            case(
                &["--stop-signal"],
                "SIGINT",
                json!({"StopSignal": "SIGINT"}),
            ),
            case(&["--stop-timeout"], "30", json!({"StopTimeout": 30})),
        ]
    }

    #[test]
    fn every_value_flag_in_every_form() {
        for case in value_cases() {
            for flag in case.flags {
                let mut forms = vec![
                    format!("{flag} {}", quoted(case.value)),
                    format!("{flag}={}", quoted(case.value)),
                ];
                if !flag.starts_with("--") {
                    // `-eA=1`: the value attached to a short flag.
                    forms.push(format!("{flag}{}", quoted(case.value)));
                }
                for options in forms {
                    assert_eq!(applied(&options), case.body, "options: {options}");
                }
            }
        }
    }

    /// A switch: the body it gives on, and the one with `=false`.
    fn switch_cases() -> Vec<(&'static str, Value, Value)> {
        vec![
            (
                "--no-healthcheck",
                json!({"Healthcheck": {"Test": ["NONE"]}}),
                json!({}),
            ),
            (
                "--privileged",
                json!({"HostConfig": {"Privileged": true}}),
                json!({"HostConfig": {"Privileged": false}}),
            ),
            (
                "--init",
                json!({"HostConfig": {"Init": true}}),
                json!({"HostConfig": {"Init": false}}),
            ),
            (
                "--read-only",
                json!({"HostConfig": {"ReadonlyRootfs": true}}),
                json!({"HostConfig": {"ReadonlyRootfs": false}}),
            ),
            // Accepted and ignored: gantry removes its containers anyway.
            ("--rm", json!({}), json!({})),
        ]
    }

    #[test]
    fn every_switch_in_every_form() {
        for (flag, on, off) in switch_cases() {
            for truthy in ["", "=true", "=1", "=t", "=T", "=TRUE", "=True"] {
                assert_eq!(applied(&format!("{flag}{truthy}")), on, "{flag}{truthy}");
            }
            for falsy in ["=false", "=0", "=f", "=F", "=FALSE", "=False"] {
                assert_eq!(applied(&format!("{flag}{falsy}")), off, "{flag}{falsy}");
            }
        }
    }

    #[test]
    fn the_tables_cover_every_supported_flag() {
        let values = value_cases();
        let switches = switch_cases();
        for flag in FLAGS {
            let covered = values.iter().any(|case| case.flags.contains(&flag.long))
                || switches.iter().any(|(name, _, _)| *name == flag.long);
            assert!(covered, "{} has no test case", flag.long);
            if let Some(short) = flag.short {
                assert!(
                    values.iter().any(|case| case.flags.contains(&short)),
                    "{short} has no test case"
                );
            }
        }
    }

    #[test]
    fn network_aliases_are_kept_for_the_caller() {
        let run = parse_options("--network-alias db --network-alias=postgres").unwrap_or_default();
        assert_eq!(run.network_aliases, ["db", "postgres"]);
    }

    #[test]
    fn empty_options_change_nothing() {
        for options in ["", "   ", "\n\t"] {
            assert_eq!(parse_options(options), Ok(RunOptions::default()));
            assert_eq!(applied(options), json!({}));
        }
    }

    /// Every `options:` string in `shared/corpus/gha` (folded `>-` scalars,
    /// so their lines are joined by spaces).
    #[test]
    fn the_corpus_options_parse() {
        let cases = [
            (
                // typeorm/typeorm tests-linux.yml, cockroachdb
                r#"--health-cmd "cockroach sql --insecure -e 'SELECT 1'" --health-interval 10s --health-timeout 5s --health-retries 5"#,
                json!({"Healthcheck": {
                    "Test": ["CMD-SHELL", "cockroach sql --insecure -e 'SELECT 1'"],
                    "Interval": 10_000_000_000_i64, "Timeout": 5_000_000_000_i64, "Retries": 5,
                }}),
            ),
            (
                // typeorm/typeorm tests-linux.yml, postgres
                "--health-cmd pg_isready --health-interval 10s --health-timeout 5s --health-retries 5",
                json!({"Healthcheck": {
                    "Test": ["CMD-SHELL", "pg_isready"],
                    "Interval": 10_000_000_000_i64, "Timeout": 5_000_000_000_i64, "Retries": 5,
                }}),
            ),
            (
                // mastodon/mastodon test-migrations.yml, postgres
                "--health-cmd pg_isready --health-interval 10ms --health-timeout 3s --health-retries 50",
                json!({"Healthcheck": {
                    "Test": ["CMD-SHELL", "pg_isready"],
                    "Interval": 10_000_000, "Timeout": 3_000_000_000_i64, "Retries": 50,
                }}),
            ),
            (
                // mastodon/mastodon test-migrations.yml, redis
                r#"--health-cmd "redis-cli ping" --health-interval 10ms --health-timeout 3s --health-retries 50"#,
                json!({"Healthcheck": {
                    "Test": ["CMD-SHELL", "redis-cli ping"],
                    "Interval": 10_000_000, "Timeout": 3_000_000_000_i64, "Retries": 50,
                }}),
            ),
            (
                // The string GitHub's documentation shows.
                r#"--health-cmd "pg_isready -U postgres" --health-interval 10s --health-timeout 5s --health-retries 5"#,
                json!({"Healthcheck": {
                    "Test": ["CMD-SHELL", "pg_isready -U postgres"],
                    "Interval": 10_000_000_000_i64, "Timeout": 5_000_000_000_i64, "Retries": 5,
                }}),
            ),
            (
                "--health-cmd 'redis-cli ping'",
                json!({"Healthcheck": {"Test": ["CMD-SHELL", "redis-cli ping"]}}),
            ),
            (
                // A `|` block scalar keeps the newlines, with or without `\`.
                "--health-cmd \"mysqladmin ping\"\n--health-interval=10s \\\n--health-retries=3\n",
                json!({"Healthcheck": {
                    "Test": ["CMD-SHELL", "mysqladmin ping"],
                    "Interval": 10_000_000_000_i64, "Retries": 3,
                }}),
            ),
        ];
        for (options, body) in cases {
            assert_eq!(applied(options), body, "options: {options}");
        }
    }

    #[test]
    fn many_flags_together() {
        let options = r#"--cpus 2 -m 1g --shm-size=256m -e A=1 --env B=2 -v /srv:/srv:ro -v /tmp/x
            -p 8080:80 -p 8443:443 --cap-add SYS_ADMIN --cap-add=NET_ADMIN --device /dev/fuse
            --ulimit nofile=10 --ulimit nofile=20:30 -l a=1 -l a=2 --tmpfs /run --tmpfs /run:size=1m
            --health-cmd "curl -f http://localhost/" --health-interval 5s --no-healthcheck=false"#;
        assert_eq!(
            applied(options),
            json!({
                "Env": ["A=1", "B=2"],
                "Labels": {"a": "2"},
                "Volumes": {"/tmp/x": {}},
                "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
                "Healthcheck": {
                    "Test": ["CMD-SHELL", "curl -f http://localhost/"],
                    "Interval": 5_000_000_000_i64,
                },
                "HostConfig": {
                    "NanoCpus": 2_000_000_000_i64,
                    "Memory": 1_073_741_824,
                    "ShmSize": 268_435_456,
                    "Binds": ["/srv:/srv:ro"],
                    "PortBindings": {
                        "80/tcp": [{"HostPort": "8080"}],
                        "443/tcp": [{"HostPort": "8443"}],
                    },
                    "CapAdd": ["SYS_ADMIN", "NET_ADMIN"],
                    "Devices": [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}],
                    "Ulimits": [{"Name": "nofile", "Soft": 20, "Hard": 30}],
                    "Tmpfs": {"/run": "size=1m"},
                },
            })
        );
    }

    #[test]
    fn words_split_like_a_posix_shell() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("a b", &["a", "b"]),
            ("  a \t\r\n b  ", &["a", "b"]),
            ("'a b'", &["a b"]),
            ("\"a b\"", &["a b"]),
            (r"a\ b", &["a b"]),
            (r"a\'b", &["a'b"]),
            (r"'a\b'", &[r"a\b"]),
            (r#""a \"b\" \\ \$ \` \x""#, &[r#"a "b" \ $ ` \x"#]),
            ("''", &[""]),
            ("'' \"\"", &["", ""]),
            ("a''b", &["ab"]),
            ("a'b c'\"d e\"f", &["ab cd ef"]),
            ("\"it's\"", &["it's"]),
            ("'say \"hi\"'", &["say \"hi\""]),
            ("a\\\nb", &["ab"]),
            ("\"a\\\nb\"", &["ab"]),
            ("'a\nb'", &["a\nb"]),
            (
                "$HOME ~ * `x` ; | #c",
                &["$HOME", "~", "*", "`x`", ";", "|", "#c"],
            ),
            ("é 'ü ß'", &["é", "ü ß"]),
        ];
        for (input, words) in cases {
            let expected: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            assert_eq!(split_words(input), Ok(expected), "input: {input:?}");
        }
    }

    #[test]
    fn every_error_says_what_to_do() {
        let cases: &[(&str, &str)] = &[
            // Splitting.
            (
                "--health-cmd 'pg_isready",
                "unterminated single quote in `options:`: close it with another `'`, or escape it with a backslash",
            ),
            (
                "--health-cmd \"pg_isready",
                "unterminated double quote in `options:`: close it with another `\"`, or escape it with a backslash",
            ),
            (
                "--health-cmd \"pg_isready\\",
                "unterminated double quote in `options:`: close it with another `\"`, or escape it with a backslash",
            ),
            (
                "--health-cmd pg_isready\\",
                r"`options:` ends with a backslash: remove it, or write `\\` for a literal backslash",
            ),
            // Unknown flags and stray words.
            (
                "--helth-cmd pg_isready",
                "unknown option `--helth-cmd` in `options:` (did you mean `--health-cmd`?)",
            ),
            (
                "--health-interal=10s",
                "unknown option `--health-interal` in `options:` (did you mean `--health-interval`?)",
            ),
            (
                "--HEALTH-CMD x",
                "unknown option `--HEALTH-CMD` in `options:` (did you mean `--health-cmd`?)",
            ),
            (
                "-health-cmd pg_isready",
                "unknown option `-health-cmd` in `options:` (did you mean `--health-cmd`?)",
            ),
            (
                "-privileged",
                "unknown option `-privileged` in `options:` (did you mean `--privileged`?)",
            ),
            (
                "--frobnicate",
                "unknown option `--frobnicate` in `options:`: gantry does not support this `docker create` flag, remove it",
            ),
            (
                "-it",
                "unknown option `-it` in `options:`: gantry does not support this `docker create` flag, remove it",
            ),
            (
                "--",
                "`--` in `options:` is not a flag: `options:` holds only `docker create` flags such as `--health-cmd`; the image comes from `image:`",
            ),
            (
                "postgres:16",
                "`postgres:16` in `options:` is not a flag: `options:` holds only `docker create` flags such as `--health-cmd`; the image comes from `image:`",
            ),
            (
                "--health-cmd pg_isready -U postgres",
                "unknown option `-U` in `options:`: if it is part of the value of `--health-cmd`, put the whole value in quotes, as in `--health-cmd \"pg_isready -U …\"`",
            ),
            (
                "--health-cmd redis-cli ping",
                "`ping` in `options:` is not a flag: if it is part of the value of `--health-cmd`, put the whole value in quotes, as in `--health-cmd \"redis-cli ping\"`",
            ),
            (
                "--privileged true",
                "`true` in `options:` is not a flag: `--privileged` takes no separate value: write `--privileged` or `--privileged=true`",
            ),
            (
                "--privileged=true true",
                "`true` in `options:` is not a flag: `options:` holds only `docker create` flags such as `--health-cmd`; the image comes from `image:`",
            ),
            // Refused flags.
            (
                "--name db",
                "`--name` is not supported in `options:`: gantry names its containers itself; to reach this container under another name, use `--network-alias NAME`",
            ),
            (
                "--network host",
                "`--network` is not supported in `options:`: gantry puts every container on the job's network itself; to give this container another name on that network, use `--network-alias NAME`",
            ),
            (
                "--net=host",
                "`--net` is not supported in `options:`: gantry puts every container on the job's network itself; to give this container another name on that network, use `--network-alias NAME`",
            ),
            (
                "--env-file .env",
                "`--env-file` is not supported in `options:`: gantry does not read env files for containers; set the variables with `env:` instead",
            ),
            (
                "--platform linux/arm64",
                "`--platform` is not supported in `options:`: gantry runs images for the Docker host's platform; use an image tag or digest built for it",
            ),
            // Missing values.
            (
                "--health-cmd",
                "`--health-cmd` in `options:` needs a value: write `--health-cmd VALUE` or `--health-cmd=VALUE`",
            ),
            (
                "--health-cmd --health-interval 10s",
                "`--health-cmd` in `options:` needs a value: write `--health-cmd VALUE` or `--health-cmd=VALUE`",
            ),
            (
                "-e --name=x",
                "`-e` in `options:` needs a value: write `-e VALUE` or `-e=VALUE`",
            ),
            // Health checks.
            (
                "--health-interval=",
                "invalid value `` for `--health-interval` in `options:`: expected a duration such as `10s`, `1m30s` or `500ms`",
            ),
            (
                "--health-interval 10",
                "invalid value `10` for `--health-interval` in `options:`: add a unit, such as `10s`",
            ),
            (
                "--health-timeout 10x",
                "invalid value `10x` for `--health-timeout` in `options:`: expected a duration such as `10s`, `1m30s` or `500ms`",
            ),
            (
                "--health-timeout 1h30",
                "invalid value `1h30` for `--health-timeout` in `options:`: expected a duration such as `10s`, `1m30s` or `500ms`",
            ),
            (
                "--health-timeout 10S",
                "invalid value `10S` for `--health-timeout` in `options:`: expected a duration such as `10s`, `1m30s` or `500ms`",
            ),
            (
                "--health-timeout 1..5s",
                "invalid value `1..5s` for `--health-timeout` in `options:`: expected a duration such as `10s`, `1m30s` or `500ms`",
            ),
            (
                "--health-start-period -1s",
                "invalid value `-1s` for `--health-start-period` in `options:`: a duration cannot be negative",
            ),
            (
                "--health-start-interval 500us",
                "invalid value `500us` for `--health-start-interval` in `options:`: use 0 or at least `1ms`",
            ),
            (
                "--health-interval 9999999999h",
                "invalid value `9999999999h` for `--health-interval` in `options:`: the duration is too long",
            ),
            (
                "--health-cmd ''",
                "invalid value `` for `--health-cmd` in `options:`: expected a shell command such as `pg_isready`, quoted if it has spaces",
            ),
            (
                "--health-retries -1",
                "invalid value `-1` for `--health-retries` in `options:`: expected a whole number such as `5`",
            ),
            (
                "--health-retries five",
                "invalid value `five` for `--health-retries` in `options:`: expected a whole number such as `5`",
            ),
            (
                "--no-healthcheck --health-cmd true",
                "`--no-healthcheck` conflicts with `--health-cmd` in `options:`: remove one of them",
            ),
            (
                "--health-retries 3 --no-healthcheck",
                "`--no-healthcheck` conflicts with `--health-retries` in `options:`: remove one of them",
            ),
            // Switches.
            (
                "--privileged=yes",
                "invalid value `yes` for `--privileged` in `options:`: expected `true` or `false`",
            ),
            (
                "--rm=maybe",
                "invalid value `maybe` for `--rm` in `options:`: expected `true` or `false`",
            ),
            // Strings.
            (
                "-e =x",
                "invalid value `=x` for `-e` in `options:`: expected `NAME=value` (or a bare `NAME` to remove it from the image's environment)",
            ),
            (
                "--env 'A B=1'",
                "invalid value `A B=1` for `--env` in `options:`: expected `NAME=value` (or a bare `NAME` to remove it from the image's environment)",
            ),
            (
                "-u ''",
                "invalid value `` for `-u` in `options:`: expected a user name or id, such as `1000` or `postgres:postgres`",
            ),
            (
                "-w app",
                "invalid value `app` for `-w` in `options:`: expected an absolute path inside the container, such as `/app`",
            ),
            (
                "--hostname 'a b'",
                "invalid value `a b` for `--hostname` in `options:`: expected a host name such as `db`",
            ),
            (
                "--network-alias ''",
                "invalid value `` for `--network-alias` in `options:`: expected a name such as `db`",
            ),
            // Numbers and sizes.
            (
                "--cpus two",
                "invalid value `two` for `--cpus` in `options:`: expected a number of CPUs such as `2` or `1.5`",
            ),
            (
                "--cpus -1",
                "invalid value `-1` for `--cpus` in `options:`: expected a number of CPUs such as `2` or `1.5`",
            ),
            (
                "--cpus 0.0000000001",
                "invalid value `0.0000000001` for `--cpus` in `options:`: too precise: use at most 9 decimal places",
            ),
            (
                "--cpus 99999999999999",
                "invalid value `99999999999999` for `--cpus` in `options:`: expected a number of CPUs such as `2` or `1.5`",
            ),
            (
                "-c -5",
                "invalid value `-5` for `-c` in `options:`: expected a whole number such as `5`",
            ),
            (
                "--cpuset-cpus all",
                "invalid value `all` for `--cpuset-cpus` in `options:`: expected CPU numbers and ranges such as `0-3` or `0,2`",
            ),
            (
                "-m 12q",
                "invalid value `12q` for `-m` in `options:`: expected a size such as `512m` or `1g` (a plain number is in bytes)",
            ),
            (
                "--memory=",
                "invalid value `` for `--memory` in `options:`: expected a size such as `512m` or `1g` (a plain number is in bytes)",
            ),
            (
                "--memory gb",
                "invalid value `gb` for `--memory` in `options:`: expected a size such as `512m` or `1g` (a plain number is in bytes)",
            ),
            (
                "--memory 99999999999p",
                "invalid value `99999999999p` for `--memory` in `options:`: the size is too large",
            ),
            (
                "--memory-swap -2",
                "invalid value `-2` for `--memory-swap` in `options:`: expected a size such as `512m` or `1g` (a plain number is in bytes), or `-1` for unlimited swap",
            ),
            (
                "--shm-size 1.5.5g",
                "invalid value `1.5.5g` for `--shm-size` in `options:`: expected a size such as `512m` or `1g` (a plain number is in bytes)",
            ),
            (
                "--pids-limit -2",
                "invalid value `-2` for `--pids-limit` in `options:`: expected a number of processes, or `-1` for unlimited",
            ),
            (
                "--stop-timeout soon",
                "invalid value `soon` for `--stop-timeout` in `options:`: expected a number of seconds such as `10`",
            ),
            // Host settings.
            (
                "--cap-add 'NET ADMIN'",
                "invalid value `NET ADMIN` for `--cap-add` in `options:`: expected a capability such as `NET_ADMIN` or `ALL`",
            ),
            (
                "--cap-drop=",
                "invalid value `` for `--cap-drop` in `options:`: expected a capability such as `NET_ADMIN` or `ALL`",
            ),
            (
                "--add-host db",
                "invalid value `db` for `--add-host` in `options:`: expected `HOST:IP`, such as `db.local:10.0.0.5` or `host.docker.internal:host-gateway`",
            ),
            (
                "--add-host db:somewhere",
                "invalid value `db:somewhere` for `--add-host` in `options:`: expected `HOST:IP`, such as `db.local:10.0.0.5` or `host.docker.internal:host-gateway`",
            ),
            (
                "--add-host :10.0.0.1",
                "invalid value `:10.0.0.1` for `--add-host` in `options:`: expected `HOST:IP`, such as `db.local:10.0.0.5` or `host.docker.internal:host-gateway`",
            ),
            (
                "--tmpfs run",
                "invalid value `run` for `--tmpfs` in `options:`: expected an absolute path inside the container, optionally followed by `:` and mount options, such as `/run:size=64m`",
            ),
            (
                "-l =x",
                "invalid value `=x` for `-l` in `options:`: expected `KEY=VALUE`",
            ),
            (
                "--label org.gantry.run=1",
                "invalid value `org.gantry.run=1` for `--label` in `options:`: labels starting with `org.gantry.` are reserved for gantry's own bookkeeping; choose another key",
            ),
            (
                "--ulimit nofile",
                "invalid value `nofile` for `--ulimit` in `options:`: expected `NAME=SOFT[:HARD]`, such as `nofile=1024:2048`",
            ),
            (
                "--ulimit nofile=many",
                "invalid value `nofile=many` for `--ulimit` in `options:`: expected `NAME=SOFT[:HARD]`, such as `nofile=1024:2048`",
            ),
            (
                "--ulimit nofile=1:x",
                "invalid value `nofile=1:x` for `--ulimit` in `options:`: expected `NAME=SOFT[:HARD]`, such as `nofile=1024:2048`",
            ),
            (
                "--ulimit nofile=20:10",
                "invalid value `nofile=20:10` for `--ulimit` in `options:`: the soft limit 20 is above the hard limit 10: make SOFT at most HARD",
            ),
            (
                "--ulimit nofile=-1:10",
                "invalid value `nofile=-1:10` for `--ulimit` in `options:`: the soft limit -1 is above the hard limit 10: make SOFT at most HARD",
            ),
            (
                "--ulimit files=10",
                "invalid value `files=10` for `--ulimit` in `options:`: unknown limit `files`: use one of `core`, `cpu`, `data`, `fsize`, `locks`, `memlock`, `msgqueue`, `nice`, `nofile`, `nproc`, `rss`, `rtprio`, `rttime`, `sigpending`, `stack`",
            ),
            (
                "--security-opt ''",
                "invalid value `` for `--security-opt` in `options:`: expected an option such as `no-new-privileges` or `apparmor=unconfined`",
            ),
            (
                "--security-opt seccomp=/etc/profile.json",
                "invalid value `seccomp=/etc/profile.json` for `--security-opt` in `options:`: a seccomp profile file cannot be read here: use `seccomp=unconfined`, or the profile's JSON itself",
            ),
            (
                "--dns 8.8.8",
                "invalid value `8.8.8` for `--dns` in `options:`: expected an IP address such as `8.8.8.8`",
            ),
            (
                "--dns-search ''",
                "invalid value `` for `--dns-search` in `options:`: expected a domain such as `example.com`",
            ),
            (
                "--dns-option ''",
                "invalid value `` for `--dns-option` in `options:`: expected a resolver option such as `ndots:2`",
            ),
            (
                "--ipc bogus",
                "invalid value `bogus` for `--ipc` in `options:`: expected `private`, `shareable`, `host`, `none` or `container:NAME`",
            ),
            (
                "--ipc container:",
                "invalid value `container:` for `--ipc` in `options:`: expected `private`, `shareable`, `host`, `none` or `container:NAME`",
            ),
            (
                "--sysctl somaxconn",
                "invalid value `somaxconn` for `--sysctl` in `options:`: expected `NAME=VALUE`, such as `net.core.somaxconn=1024`",
            ),
            (
                "--group-add ''",
                "invalid value `` for `--group-add` in `options:`: expected a group name or id",
            ),
            (
                "--device dev/fuse",
                "invalid value `dev/fuse` for `--device` in `options:`: expected `/dev/HOST[:/dev/CONTAINER][:PERMISSIONS]`, such as `/dev/fuse` or `/dev/sda:/dev/xvdc:r`",
            ),
            (
                "--device /dev/a:/dev/b:rwx",
                "invalid value `/dev/a:/dev/b:rwx` for `--device` in `options:`: expected `/dev/HOST[:/dev/CONTAINER][:PERMISSIONS]`, such as `/dev/fuse` or `/dev/sda:/dev/xvdc:r`",
            ),
            (
                "--stop-signal ''",
                "invalid value `` for `--stop-signal` in `options:`: expected a signal such as `SIGTERM`",
            ),
            // Ports and volumes name the flag, then the problem.
            (
                "-p 8000-8010:8000-8010",
                "invalid value `8000-8010:8000-8010` for `-p` in `options:`: port ranges are not supported: map each port on its own",
            ),
            (
                "-v ./data:/data",
                "invalid value `./data:/data` for `-v` in `options:`: the host path `./data` is relative: use an absolute path, such as `${{ github.workspace }}/data`, or a named volume",
            ),
        ];
        for (options, message) in cases {
            assert_eq!(error(options), *message, "options: {options}");
        }
    }

    #[test]
    fn ports() {
        let port =
            |host_ip: Option<&str>, host_port: Option<u16>, container_port, protocol| PortMapping {
                host_ip: host_ip.map(str::to_string),
                host_port,
                container_port,
                protocol,
            };
        let cases = [
            ("5432", port(None, None, 5432, Protocol::Tcp)),
            ("8080:80", port(None, Some(8080), 80, Protocol::Tcp)),
            (":80", port(None, None, 80, Protocol::Tcp)),
            (
                "127.0.0.1:8080:80",
                port(Some("127.0.0.1"), Some(8080), 80, Protocol::Tcp),
            ),
            (
                "127.0.0.1::80",
                port(Some("127.0.0.1"), None, 80, Protocol::Tcp),
            ),
            ("::80", port(None, None, 80, Protocol::Tcp)),
            ("53/udp", port(None, None, 53, Protocol::Udp)),
            ("5353:53/UDP", port(None, Some(5353), 53, Protocol::Udp)),
            ("80/tcp", port(None, None, 80, Protocol::Tcp)),
            ("9/sctp", port(None, None, 9, Protocol::Sctp)),
            (
                "[::1]:8080:80",
                port(Some("::1"), Some(8080), 80, Protocol::Tcp),
            ),
            ("[::1]::80/udp", port(Some("::1"), None, 80, Protocol::Udp)),
            (
                " 26257:26257 ",
                port(None, Some(26257), 26257, Protocol::Tcp),
            ),
            ("65535:1", port(None, Some(65535), 1, Protocol::Tcp)),
        ];
        for (spec, expected) in cases {
            assert_eq!(parse_port(spec), Ok(expected), "spec: {spec}");
        }
        let forms = "write `80`, `8080:80`, `127.0.0.1:8080:80` or `127.0.0.1::80`, optionally followed by `/tcp` or `/udp`";
        let errors = [
            ("", format!("invalid port `` in `ports:`: the container port is missing: {forms}")),
            ("8080:", format!("invalid port `8080:` in `ports:`: the container port is missing: {forms}")),
            ("http", format!("invalid port `http` in `ports:`: `http` is not a container port (1-65535): {forms}")),
            ("0", format!("invalid port `0` in `ports:`: `0` is not a container port (1-65535): {forms}")),
            ("65536", format!("invalid port `65536` in `ports:`: `65536` is not a container port (1-65535): {forms}")),
            ("x:80", format!("invalid port `x:80` in `ports:`: `x` is not a host port (1-65535): {forms}")),
            ("8000-8010", "invalid port `8000-8010` in `ports:`: port ranges are not supported: map each port on its own".to_string()),
            ("8000-8010:80", "invalid port `8000-8010:80` in `ports:`: port ranges are not supported: map each port on its own".to_string()),
            ("80/icmp", "invalid port `80/icmp` in `ports:`: unknown protocol `icmp`: use `/tcp` or `/udp`".to_string()),
            ("localhost:8080:80", format!("invalid port `localhost:8080:80` in `ports:`: `localhost` is not an IP address: {forms}")),
            ("::1:8080:80", format!("invalid port `::1:8080:80` in `ports:`: too many `:`: {forms}; put an IPv6 address in brackets, as in `[::1]:8080:80`")),
            ("[::1]:1:2:3", format!("invalid port `[::1]:1:2:3` in `ports:`: too many `:`: {forms}")),
            ("[::1]", format!("invalid port `[::1]` in `ports:`: an IPv6 address needs a host and container port after it: {forms}")),
            ("[nope]:1:2", format!("invalid port `[nope]:1:2` in `ports:`: `nope` is not an IP address: {forms}")),
        ];
        for (spec, message) in errors {
            match parse_port(spec) {
                Ok(port) => panic!("`{spec}` should fail, got {port:?}"),
                Err(e) => assert_eq!(e.to_string(), message, "spec: {spec}"),
            }
        }
    }

    #[test]
    fn volumes() {
        let mount = |source: VolumeSource, target: &str, mode: Option<&str>| VolumeMount {
            source,
            target: target.to_string(),
            mode: mode.map(str::to_string),
        };
        let named = |name: &str| VolumeSource::Named(name.to_string());
        let host = |path: &str| VolumeSource::HostPath(path.to_string());
        let cases = [
            ("/data", mount(VolumeSource::Anonymous, "/data", None), None),
            (
                "/data:ro",
                mount(VolumeSource::Anonymous, "/data", Some("ro")),
                Some("/data:ro"),
            ),
            (
                "cache:/cache",
                mount(named("cache"), "/cache", None),
                Some("cache:/cache"),
            ),
            (
                "my_vol-1.2:/v:rw",
                mount(named("my_vol-1.2"), "/v", Some("rw")),
                Some("my_vol-1.2:/v:rw"),
            ),
            (
                "/usr:/host_usr",
                mount(host("/usr"), "/host_usr", None),
                Some("/usr:/host_usr"),
            ),
            (
                "/usr/local/cargo/registry:/usr/local/cargo/registry",
                mount(
                    host("/usr/local/cargo/registry"),
                    "/usr/local/cargo/registry",
                    None,
                ),
                Some("/usr/local/cargo/registry:/usr/local/cargo/registry"),
            ),
            (
                "/src:/src:ro,z",
                mount(host("/src"), "/src", Some("ro,z")),
                Some("/src:/src:ro,z"),
            ),
            (
                "/src:/src:cached",
                mount(host("/src"), "/src", Some("cached")),
                Some("/src:/src:cached"),
            ),
            (" /a:/b ", mount(host("/a"), "/b", None), Some("/a:/b")),
        ];
        for (spec, expected, bind) in cases {
            let parsed = parse_volume(spec);
            assert_eq!(parsed, Ok(expected), "spec: {spec}");
            assert_eq!(
                parsed.ok().and_then(|m| m.bind()).as_deref(),
                bind,
                "spec: {spec}"
            );
        }
        let forms = "write `/container/path`, `name:/container/path` or `/host/path:/container/path`, optionally followed by `:ro`";
        let errors = [
            ("", format!("invalid volume `` in `volumes:`: it is empty: {forms}")),
            ("data", format!("invalid volume `data` in `volumes:`: the container path `data` must be absolute (start with `/`): {forms}")),
            ("data:ro", format!("invalid volume `data:ro` in `volumes:`: the container path `data` must be absolute (start with `/`): {forms}")),
            ("cache:data:ro", format!("invalid volume `cache:data:ro` in `volumes:`: the container path `data` must be absolute (start with `/`): {forms}")),
            ("/", "invalid volume `/` in `volumes:`: the container path cannot be `/`: mount at a directory such as `/data`".to_string()),
            ("/srv:/", "invalid volume `/srv:/` in `volumes:`: the container path cannot be `/`: mount at a directory such as `/data`".to_string()),
            (":/data", format!("invalid volume `:/data` in `volumes:`: the part before `:` is empty: {forms}")),
            ("./data:/data", "invalid volume `./data:/data` in `volumes:`: the host path `./data` is relative: use an absolute path, such as `${{ github.workspace }}/data`, or a named volume".to_string()),
            ("../data:/data", "invalid volume `../data:/data` in `volumes:`: the host path `../data` is relative: use an absolute path or a named volume".to_string()),
            ("data/sub:/data", "invalid volume `data/sub:/data` in `volumes:`: the host path `data/sub` is relative: use an absolute path or a named volume".to_string()),
            ("~/cache:/cache", "invalid volume `~/cache:/cache` in `volumes:`: `~` is not expanded in `~/cache`: write the host path in full, starting with `/`".to_string()),
            ("x:/data", "invalid volume `x:/data` in `volumes:`: `x` is not a volume name: use at least two letters, digits, `_`, `.` or `-`, starting with a letter or digit".to_string()),
            ("_x:/data", "invalid volume `_x:/data` in `volumes:`: `_x` is not a volume name: use at least two letters, digits, `_`, `.` or `-`, starting with a letter or digit".to_string()),
            ("n@me:/data", "invalid volume `n@me:/data` in `volumes:`: `n@me` is not a volume name: use at least two letters, digits, `_`, `.` or `-`, starting with a letter or digit".to_string()),
            ("/a:/b:", "invalid volume `/a:/b:` in `volumes:`: `` is not a mount mode: use `ro` or `rw`, with other comma-separated flags such as `z` if needed".to_string()),
            ("/a:/b:ro,", "invalid volume `/a:/b:ro,` in `volumes:`: `ro,` is not a mount mode: use `ro` or `rw`, with other comma-separated flags such as `z` if needed".to_string()),
            ("/a:/b:/c", "invalid volume `/a:/b:/c` in `volumes:`: `/c` is not a mount mode: use `ro` or `rw`, with other comma-separated flags such as `z` if needed".to_string()),
            ("/a:/b:ro:z", format!("invalid volume `/a:/b:ro:z` in `volumes:`: too many `:`: {forms}")),
            ("C:\\src:/src", "invalid volume `C:\\src:/src` in `volumes:`: Windows paths are not supported: gantry runs Linux containers, write a path starting with `/`".to_string()),
            ("c:/src:/src", "invalid volume `c:/src:/src` in `volumes:`: Windows paths are not supported: gantry runs Linux containers, write a path starting with `/`".to_string()),
        ];
        for (spec, message) in errors {
            match parse_volume(spec) {
                Ok(mount) => panic!("`{spec}` should fail, got {mount:?}"),
                Err(e) => assert_eq!(e.to_string(), message, "spec: {spec}"),
            }
        }
    }

    #[test]
    fn apply_ports_and_volumes_fill_the_body() {
        let ports: Vec<PortMapping> = ["5432:5432", "5432", "127.0.0.1::6379/udp"]
            .into_iter()
            .filter_map(|p| parse_port(p).ok())
            .collect();
        let volumes: Vec<VolumeMount> = [
            "/usr:/host_usr",
            "cache:/cache",
            "/scratch",
            "/scratch",
            "/ro:ro",
        ]
        .into_iter()
        .filter_map(|v| parse_volume(v).ok())
        .collect();
        let mut body = ContainerCreateBody::default();
        apply_ports(&ports, &mut body);
        apply_volumes(&volumes, &mut body);
        assert_eq!(
            serde_json::to_value(&body).unwrap_or_default(),
            json!({
                "ExposedPorts": {"5432/tcp": {}, "6379/udp": {}},
                "Volumes": {"/scratch": {}},
                "HostConfig": {
                    "PortBindings": {
                        "5432/tcp": [{"HostPort": "5432"}, {"HostPort": ""}],
                        "6379/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
                    },
                    "Binds": ["/usr:/host_usr", "cache:/cache", "/ro:ro"],
                },
            })
        );
        assert_eq!(
            body.exposed_ports,
            Some(vec!["5432/tcp".to_string(), "6379/udp".to_string()])
        );
    }

    #[test]
    fn nothing_to_apply_leaves_the_body_alone() {
        let mut body = ContainerCreateBody {
            image: Some("postgres:16".to_string()),
            ..Default::default()
        };
        let before = body.clone();
        RunOptions::default().apply(&mut body);
        apply_ports(&[], &mut body);
        apply_volumes(&[], &mut body);
        parse_options("--rm --network-alias db")
            .unwrap_or_default()
            .apply(&mut body);
        assert_eq!(body, before);
    }

    #[test]
    fn apply_keeps_what_the_caller_set() {
        let mut body = ContainerCreateBody {
            env: Some(vec!["CI=true".to_string()]),
            labels: Some([("org.gantry.run".to_string(), "r1".to_string())].into()),
            entrypoint: Some(vec!["tail".to_string()]),
            user: Some("root".to_string()),
            healthcheck: Some(HealthConfig {
                test: Some(vec!["CMD".to_string(), "true".to_string()]),
                retries: Some(1),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                network_mode: Some("gantry-net".to_string()),
                binds: Some(vec!["/work:/work".to_string()]),
                cap_add: Some(vec!["CHOWN".to_string()]),
                ulimits: Some(vec![ResourcesUlimits {
                    name: Some("nofile".to_string()),
                    soft: Some(1),
                    hard: Some(1),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        parse_options("-e A=1 -l team=infra -v /cache:/cache --cap-add NET_ADMIN --ulimit nofile=5 --health-interval 2s")
            .unwrap_or_default()
            .apply(&mut body);
        assert_eq!(
            serde_json::to_value(&body).unwrap_or_default(),
            json!({
                "Env": ["CI=true", "A=1"],
                "Labels": {"org.gantry.run": "r1", "team": "infra"},
                "Entrypoint": ["tail"],
                "User": "root",
                "Healthcheck": {"Test": ["CMD", "true"], "Retries": 1, "Interval": 2_000_000_000_i64},
                "HostConfig": {
                    "NetworkMode": "gantry-net",
                    "Binds": ["/work:/work", "/cache:/cache"],
                    "CapAdd": ["CHOWN", "NET_ADMIN"],
                    "Ulimits": [{"Name": "nofile", "Soft": 5, "Hard": 5}],
                },
            })
        );
    }

    #[test]
    fn no_healthcheck_replaces_the_callers_health_check() {
        let mut body = ContainerCreateBody {
            healthcheck: Some(HealthConfig {
                test: Some(vec!["CMD".to_string(), "true".to_string()]),
                interval: Some(1_000_000_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        parse_options("--no-healthcheck")
            .unwrap_or_default()
            .apply(&mut body);
        assert_eq!(
            body.healthcheck,
            Some(HealthConfig {
                test: Some(vec!["NONE".to_string()]),
                ..Default::default()
            })
        );
    }

    #[test]
    fn later_single_values_win() {
        assert_eq!(
            applied("-u a --user b -w /a --workdir=/b --entrypoint x --entrypoint y"),
            json!({"User": "b", "WorkingDir": "/b", "Entrypoint": ["y"]})
        );
    }

    #[test]
    fn durations_like_go() {
        let cases = [
            ("0", 0),
            ("0s", 0),
            ("1ms", 1_000_000),
            ("1000us", 1_000_000),
            ("1000µs", 1_000_000),
            ("1000μs", 1_000_000),
            ("1000000ns", 1_000_000),
            ("1.5ms", 1_500_000),
            ("+2s", 2_000_000_000),
            ("2.5s", 2_500_000_000),
            ("1m30s", 90_000_000_000),
            ("1h0m0s", 3_600_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("1m30.5s", 90_500_000_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("0.3333333333333333333333s", 333_333_333),
        ];
        for (text, nanos) in cases {
            assert_eq!(duration(text), Ok(nanos), "duration: {text}");
        }
        for bad in ["", "s", ".s", "1", "1h30", "1d", "1 s", "-0s", "+", "1e3s"] {
            assert!(duration(bad).is_err(), "`{bad}` should not be a duration");
        }
    }

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("--helth-cmd", "--health-cmd"), 1);
        assert_eq!(edit_distance("--priviledged", "--privileged"), 1);
        assert_eq!(edit_distance("--vloume", "--volume"), 1);
        assert_eq!(edit_distance("--vlumes", "--volume"), 2);
        assert_eq!(edit_distance("--cpsu", "--cpus"), 1);
        assert_eq!(closest_flag("--priviledged"), Some("--privileged"));
        assert_eq!(closest_flag("--volumes"), Some("--volume"));
        assert_eq!(closest_flag("--xyz"), None);
        assert_eq!(closest_flag("-x"), None);
    }

    /// No input makes any parser panic: every string of up to four
    /// characters from an alphabet of troublemakers, and every flag with odd
    /// values.
    #[test]
    fn no_input_panics() {
        let alphabet = [
            "-", "=", ":", "/", "\"", "'", "\\", " ", "\n", "a", "1", ".", "[", "]", "é", "e", "h",
        ];
        let mut inputs = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for prefix in &frontier {
                for piece in alphabet {
                    next.push(format!("{prefix}{piece}"));
                }
            }
            inputs.extend(next.iter().cloned());
            frontier = next;
        }
        for input in &inputs {
            let _ = parse_options(input);
            let _ = parse_port(input);
            let _ = parse_volume(input);
        }
        let values = [
            "",
            "-",
            "=",
            ":",
            "::",
            ":::",
            "é",
            "1é",
            "é1s",
            "1.",
            ".",
            "..",
            "1e9",
            "-1",
            "0",
            "99999999999999999999999999999999999999999",
            "1.99999999999999999999999999999g",
            "[",
            "[]:",
            "[::1]:",
            "a=",
            "=a",
            "a:b:c:d",
            "/a:/b:c",
            "µ",
            "1µ",
            "1µs",
            "seccomp=",
        ];
        for flag in FLAGS
            .iter()
            .flat_map(|f| std::iter::once(f.long).chain(f.short))
        {
            for value in values {
                let _ = parse_options(&format!("{flag} {}", quoted(value)));
                let _ = parse_options(&format!("{flag}={}", quoted(value)));
                let _ = parse_options(&format!("{flag}{}", quoted(value)));
            }
        }
    }
}
