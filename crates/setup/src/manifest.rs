//! The undo manifest: the original bytes (or absence) of every path setup
//! changed, recorded durably *before* the change, so `setup --undo`
//! restores each file byte for byte, even after a setup that failed
//! halfway. A path is recorded once: a second `setup` never overwrites the
//! true original with setup's own output.

use crate::error::{io, Result, SetupError};
use crate::fsx;
use crate::plan::{Change, Content};
use arm::Root;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Directory of the manifest and the backups.
pub const DIR: &str = "/var/lib/panicdump/setup";
/// The manifest.
pub const FILE: &str = "/var/lib/panicdump/setup/manifest.json";

/// What a path was before setup changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Original {
    /// It did not exist: undo removes it.
    Absent,
    /// A regular file, its bytes kept in `backup` (a name in [`DIR`]).
    File {
        /// Backup file name.
        backup: String,
        /// Permission bits.
        mode: u32,
        /// Owner.
        uid: u32,
        /// Group.
        gid: u32,
    },
    /// A symbolic link.
    Symlink {
        /// Its target.
        target: String,
    },
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Absolute path on the target system.
    pub path: String,
    /// What it was.
    pub original: Original,
}

/// All changed paths and created directories, in the order of change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// Changed paths.
    pub entries: Vec<Entry>,
    /// Directories setup created (removed by undo when empty).
    pub created_dirs: Vec<String>,
}

/// What `apply` did.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Paths written.
    pub written: Vec<String>,
    /// Paths that already had the wanted content.
    pub unchanged: Vec<String>,
}

/// What `undo` did.
#[derive(Debug, Clone, Default)]
pub struct Undone {
    /// Paths restored to their original bytes.
    pub restored: Vec<String>,
    /// Paths removed (setup had created them).
    pub removed: Vec<String>,
}

/// The current state of a path, comparable with a [`Content`].
pub fn current(root: &Root, path: &str) -> Result<Option<Content>> {
    let p = root.path(path);
    match std::fs::symlink_metadata(&p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("stat", &p)(e)),
        Ok(m) if m.file_type().is_symlink() => {
            let t = std::fs::read_link(&p).map_err(io("readlink", &p))?;
            Ok(Some(Content::Symlink(t.to_string_lossy().into_owned())))
        }
        Ok(m) if m.is_file() => Ok(Some(Content::File {
            bytes: std::fs::read(&p).map_err(io("read", &p))?,
            mode: m.mode() & 0o7777,
        })),
        Ok(_) => Err(SetupError::Unsupported(format!(
            "{}: exists and is not a file or symlink; not touching it",
            p.display()
        ))),
    }
}

fn same(have: &Option<Content>, want: &Content) -> bool {
    match (have, want) {
        (Some(Content::File { bytes: a, .. }), Content::File { bytes: b, .. }) => a == b,
        (Some(Content::Symlink(a)), Content::Symlink(b)) => a == b,
        _ => false,
    }
}

impl Manifest {
    /// The manifest under `root`, `None` when setup has not run.
    pub fn load(root: &Root) -> Result<Option<Manifest>> {
        let p = root.path(FILE);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| SetupError::Manifest {
                    path: p,
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &p)(e)),
        }
    }

    fn save(&self, root: &Root) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| SetupError::Manifest {
            path: root.path(FILE),
            message: e.to_string(),
        })?;
        fsx::write_atomic(&root.path(FILE), &bytes, 0o600)
    }

    /// The recorded entry of `path`.
    pub fn entry(&self, path: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// The original bytes of `path`: `None` when not recorded,
    /// `Some(None)` when it did not exist.
    pub fn original_bytes(&self, root: &Root, path: &str) -> Result<Option<Option<Vec<u8>>>> {
        Ok(match self.entry(path).map(|e| &e.original) {
            None => None,
            Some(Original::Absent) | Some(Original::Symlink { .. }) => Some(None),
            Some(Original::File { backup, .. }) => {
                let p = root.path(format!("{DIR}/{backup}"));
                Some(Some(std::fs::read(&p).map_err(io("read backup", &p))?))
            }
        })
    }

    /// Create the missing ancestors of `abs` (and `abs` itself when
    /// `inclusive`), recording each before creating it.
    fn create_dirs(&mut self, root: &Root, abs: &Path, save: bool) -> Result<()> {
        let mut missing = Vec::new();
        let mut d = Some(abs);
        while let Some(dir) = d {
            if dir == Path::new("/") || root.path(dir).exists() {
                break;
            }
            missing.push(dir.to_path_buf());
            d = dir.parent();
        }
        for dir in missing.into_iter().rev() {
            let s = dir.to_string_lossy().into_owned();
            if !self.created_dirs.contains(&s) {
                self.created_dirs.push(s);
            }
            if save {
                self.save(root)?;
            }
            let p = root.path(&dir);
            std::fs::create_dir(&p).map_err(io("create directory", &p))?;
        }
        Ok(())
    }

    /// Record what `path` is now, before it is changed (once per path).
    fn record(&mut self, root: &Root, path: &str, now: &Option<Content>) -> Result<()> {
        if self.entry(path).is_some() {
            return Ok(());
        }
        let original = match now {
            None => Original::Absent,
            Some(Content::Symlink(t)) => Original::Symlink { target: t.clone() },
            Some(Content::File { bytes, mode }) => {
                let m = std::fs::metadata(root.path(path)).map_err(io("stat", root.path(path)))?;
                let backup = format!("backup-{}", self.entries.len());
                fsx::write_atomic(&root.path(format!("{DIR}/{backup}")), bytes, 0o600)?;
                Original::File {
                    backup,
                    mode: *mode,
                    uid: m.uid(),
                    gid: m.gid(),
                }
            }
        };
        self.entries.push(Entry {
            path: path.into(),
            original,
        });
        self.save(root)
    }
}

/// Write every change under `root`, recording originals first.
pub fn apply(root: &Root, changes: &[Change]) -> Result<Applied> {
    let mut m = Manifest::load(root)?.unwrap_or(Manifest {
        version: 1,
        ..Manifest::default()
    });
    // The manifest's own directory: created (and recorded) first, saved once it exists.
    m.create_dirs(root, Path::new(DIR), false)?;
    m.save(root)?;
    let mut out = Applied::default();
    for c in changes {
        let now = current(root, &c.path)?;
        if same(&now, &c.content) {
            out.unchanged.push(c.path.clone());
            continue;
        }
        m.record(root, &c.path, &now)?;
        let abs = Path::new(&c.path);
        if let Some(parent) = abs.parent() {
            m.create_dirs(root, parent, true)?;
        }
        let p = root.path(&c.path);
        match &c.content {
            Content::File { bytes, mode } => {
                let mode = match &now {
                    Some(Content::File { mode, .. }) => *mode,
                    _ => *mode,
                };
                fsx::write_atomic(&p, bytes, mode)?;
            }
            Content::Symlink(target) => fsx::symlink_atomic(target, &p)?,
        }
        out.written.push(c.path.clone());
    }
    Ok(out)
}

/// What undo would write: (path, original content or `None` for removal).
pub fn undo_plan(root: &Root) -> Result<Vec<(String, Option<Content>)>> {
    let Some(m) = Manifest::load(root)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in m.entries.iter().rev() {
        let content = match &e.original {
            Original::Absent => None,
            Original::Symlink { target } => Some(Content::Symlink(target.clone())),
            Original::File { mode, .. } => Some(Content::File {
                bytes: m
                    .original_bytes(root, &e.path)?
                    .flatten()
                    .unwrap_or_default(),
                mode: *mode,
            }),
        };
        out.push((e.path.clone(), content));
    }
    Ok(out)
}

/// Restore every recorded path; `None` when there is nothing to undo.
/// Progress is saved after each path, so an interrupted undo resumes.
pub fn undo(root: &Root) -> Result<Option<Undone>> {
    let Some(mut m) = Manifest::load(root)? else {
        return Ok(None);
    };
    let mut out = Undone::default();
    while let Some(e) = m.entries.last().cloned() {
        let p = root.path(&e.path);
        match &e.original {
            Original::Absent => {
                fsx::remove(&p)?;
                out.removed.push(e.path.clone());
            }
            Original::Symlink { target } => {
                fsx::symlink_atomic(target, &p)?;
                out.restored.push(e.path.clone());
            }
            Original::File {
                backup,
                mode,
                uid,
                gid,
            } => {
                let b = root.path(format!("{DIR}/{backup}"));
                let bytes = std::fs::read(&b).map_err(io("read backup", &b))?;
                fsx::write_atomic(&p, &bytes, *mode)?;
                fsx::chown(&p, *uid, *gid)?;
                out.restored.push(e.path.clone());
            }
        }
        m.entries.pop();
        m.save(root)?;
        if let Original::File { backup, .. } = &e.original {
            fsx::remove(&root.path(format!("{DIR}/{backup}")))?;
        }
    }
    fsx::remove(&root.path(FILE))?;
    for d in m.created_dirs.iter().rev() {
        // Only empty directories go: anything else put there since is kept.
        let _ = std::fs::remove_dir(root.path(d));
    }
    Ok(Some(out))
}
