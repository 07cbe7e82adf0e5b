//! The enumerations stored as text: run/job/step [`Status`] and [`Conclusion`], repository
//! [`Role`]s and [`Forge`] kinds.

use crate::decode::UnknownName;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &[$name] = &[$($name::$variant,)*];

            /// The name stored in the database (and shown to users).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                match s {
                    $($text => Ok($name::$variant),)*
                    _ => Err(UnknownName { kind: $kind, name: s.to_string() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// Where a run, job or step is in its life.
    Status, "status" {
        /// Waiting for a runner (or, for a run, for the scheduler).
        Queued = "queued",
        /// Held until someone acts: a pull request from a fork awaiting approval.
        Waiting = "waiting",
        Running = "running",
        /// Finished: the conclusion says how.
        Completed = "completed",
    }
}

text_enum! {
    /// How a completed run, job or step ended.
    Conclusion, "conclusion" {
        Success = "success",
        Failure = "failure",
        Cancelled = "cancelled",
        Skipped = "skipped",
    }
}

text_enum! {
    /// A user's role in a repository, weakest first: each role can do what the ones before it can.
    Role, "role" {
        /// Sees runs, logs and artifacts.
        Viewer = "viewer",
        /// Also dispatches, re-runs and cancels.
        Developer = "developer",
        /// Also approves fork pull requests and manages secrets.
        Maintainer = "maintainer",
        /// Also manages the repository and its members.
        Admin = "admin",
    }
}

text_enum! {
    /// Which forge sends a repository's webhooks and receives its commit statuses.
    Forge, "forge" {
        None = "none",
        Github = "github",
        Gitea = "gitea",
        Gitlab = "gitlab",
    }
}

text_enum! {
    /// How a repository reaches the server.
    RepositoryKind, "repository kind" {
        /// A git repository on this machine, by path; a hook installed in it reports pushes.
        Local = "local",
        /// A remote repository by URL, fetched and polled.
        Remote = "remote",
        /// A forge repository that sends webhooks.
        Webhook = "webhook",
    }
}
