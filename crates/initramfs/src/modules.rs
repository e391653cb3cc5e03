//! Kernel module closure from `modules.dep`.
//!
//! `modules.dep` lines are `kernel/path/mod.ko: kernel/dep1.ko kernel/dep2.ko`
//! (paths relative to the modules directory). Busybox `insmod` loads one file
//! and does not resolve dependencies, so the init script loads the closure in
//! the order computed here: every module after all of its dependencies.

use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Parsed `modules.dep` of one kernel release.
#[derive(Debug, Clone)]
pub struct ModuleDeps {
    dir: PathBuf,
    /// Module name (`virtio_blk`) → (relative path, dependency paths).
    by_name: HashMap<String, (String, Vec<String>)>,
    /// Relative path → module name.
    by_path: HashMap<String, String>,
    /// Names from `modules.builtin` (compiled into the kernel image).
    builtin: HashSet<String>,
}

/// One module to put in the initramfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Canonical name (`-` replaced by `_`, no suffix).
    pub name: String,
    /// Path relative to the modules directory (`kernel/drivers/...ko`).
    pub rel_path: String,
}

/// Canonical module name of a path or name: basename, no `.ko[.xz|.zst|.gz]`, `-` → `_`.
pub fn module_name(path_or_name: &str) -> String {
    let base = path_or_name.rsplit('/').next().unwrap_or(path_or_name);
    let base = [".ko.xz", ".ko.zst", ".ko.gz", ".ko"]
        .iter()
        .find_map(|s| base.strip_suffix(s))
        .unwrap_or(base);
    base.replace('-', "_")
}

impl ModuleDeps {
    /// Read `<dir>/modules.dep`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join("modules.dep");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Modules {
            path: path.clone(),
            msg: format!("{e} (install the kernel's modules, package linux-image-<release>)"),
        })?;
        let mut deps = Self::parse(dir, &text)?;
        // Optional: without it, built-in drivers are only "not a module".
        if let Ok(b) = std::fs::read_to_string(dir.join("modules.builtin")) {
            deps.set_builtin(&b);
        }
        Ok(deps)
    }

    /// Record the contents of a `modules.builtin` file (one path a line).
    pub fn set_builtin(&mut self, text: &str) {
        self.builtin = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(module_name)
            .collect();
    }

    /// Whether a driver is compiled into the kernel (per `modules.builtin`).
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&module_name(name))
    }

    /// Parse the text of a `modules.dep` whose modules live under `dir`.
    pub fn parse(dir: &Path, text: &str) -> Result<Self> {
        let mut by_name = HashMap::new();
        let mut by_path = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (module, deps) = line.split_once(':').ok_or_else(|| Error::Modules {
                path: dir.join("modules.dep"),
                msg: format!("line {}: no ':'", n + 1),
            })?;
            let deps: Vec<String> = deps.split_whitespace().map(str::to_string).collect();
            let name = module_name(module);
            by_path.insert(module.to_string(), name.clone());
            by_name.insert(name, (module.to_string(), deps));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            by_name,
            by_path,
            builtin: HashSet::new(),
        })
    }

    /// The modules directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a module is available as a loadable module.
    pub fn has(&self, name: &str) -> bool {
        self.by_name.contains_key(&module_name(name))
    }

    /// Dependency closure of `wanted`, dependencies first, each module once.
    ///
    /// A name missing from `modules.dep` is an error: the driver may be built
    /// into the kernel on other configs, so filter with [`ModuleDeps::has`].
    pub fn closure(&self, wanted: &[&str]) -> Result<Vec<Module>> {
        let mut out = Vec::new();
        let mut done = HashSet::new();
        let mut on_stack = HashSet::new();
        for w in wanted {
            let name = module_name(w);
            self.visit(&name, &mut done, &mut on_stack, &mut out, 0)?;
        }
        Ok(out)
    }

    fn visit(
        &self,
        name: &str,
        done: &mut HashSet<String>,
        on_stack: &mut HashSet<String>,
        out: &mut Vec<Module>,
        depth: usize,
    ) -> Result<()> {
        if done.contains(name) {
            return Ok(());
        }
        let err = |msg: String| Error::Modules {
            path: self.dir.join("modules.dep"),
            msg,
        };
        // modules.dep is acyclic (depmod refuses cycles); guard anyway.
        if depth > 64 || !on_stack.insert(name.to_string()) {
            return Err(err(format!("dependency cycle through {name}")));
        }
        let (rel, deps) = self
            .by_name
            .get(name)
            .ok_or_else(|| err(format!("module {name} not listed (is it built in?)")))?;
        for dep in deps {
            let dep_name = self
                .by_path
                .get(dep)
                .cloned()
                .unwrap_or_else(|| module_name(dep));
            self.visit(&dep_name, done, on_stack, out, depth + 1)?;
        }
        on_stack.remove(name);
        done.insert(name.to_string());
        out.push(Module {
            name: name.to_string(),
            rel_path: rel.clone(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYNTH: &str = "\
kernel/a/virtio_ring.ko:
kernel/a/virtio.ko: kernel/a/virtio_ring.ko
kernel/a/virtio_pci_legacy_dev.ko:
kernel/a/virtio_pci_modern_dev.ko:
kernel/a/virtio_pci.ko: kernel/a/virtio_pci_legacy_dev.ko kernel/a/virtio_pci_modern_dev.ko kernel/a/virtio.ko kernel/a/virtio_ring.ko
kernel/b/virtio_blk.ko: kernel/a/virtio.ko kernel/a/virtio_ring.ko
kernel/lib/reed_solomon.ko.xz:
kernel/fs/ramoops.ko: kernel/lib/reed_solomon.ko.xz
kernel/x/dash-name.ko:
kernel/c/cyc1.ko: kernel/c/cyc2.ko
kernel/c/cyc2.ko: kernel/c/cyc1.ko
";

    fn synth() -> ModuleDeps {
        ModuleDeps::parse(Path::new("/synthetic"), SYNTH).unwrap()
    }

    fn assert_topological(mods: &[Module], deps: &ModuleDeps) {
        for (i, m) in mods.iter().enumerate() {
            let (_, d) = &deps.by_name[&m.name];
            for dep in d {
                let dn = &deps.by_path[dep];
                let j = mods.iter().position(|x| &x.name == dn).unwrap();
                assert!(j < i, "{dn} must precede {}", m.name);
            }
        }
    }

    #[test]
    fn names() {
        assert_eq!(module_name("kernel/x/virtio-rng.ko"), "virtio_rng");
        assert_eq!(module_name("a/reed_solomon.ko.xz"), "reed_solomon");
        assert_eq!(module_name("virtio-blk"), "virtio_blk");
    }

    #[test]
    fn synthetic_closure_order() {
        let d = synth();
        let mods = d.closure(&["virtio_pci", "virtio_blk", "ramoops"]).unwrap();
        let names: Vec<_> = mods.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "virtio_pci_legacy_dev",
                "virtio_pci_modern_dev",
                "virtio_ring",
                "virtio",
                "virtio_pci",
                "virtio_blk",
                "reed_solomon",
                "ramoops"
            ]
        );
        assert_topological(&mods, &d);
        assert_eq!(mods[6].rel_path, "kernel/lib/reed_solomon.ko.xz");
        assert!(d.has("dash-name"));
    }

    #[test]
    fn synthetic_errors() {
        let d = synth();
        assert!(d.closure(&["nonexistent"]).is_err());
        assert!(d.closure(&["cyc1"]).is_err());
        assert!(ModuleDeps::parse(Path::new("/x"), "no colon here\n").is_err());
    }

    /// The real tree of the running distribution kernel, when installed.
    #[test]
    fn real_modules_dep() {
        let Some(dir) = std::fs::read_dir("/lib/modules")
            .ok()
            .and_then(|mut r| r.find_map(|e| e.ok()))
            .map(|e| e.path())
            .filter(|p| p.join("modules.dep").exists())
        else {
            eprintln!("no /lib/modules/*/modules.dep; skipping");
            return;
        };
        let d = ModuleDeps::load(&dir).unwrap();
        let wanted: Vec<&str> = ["virtio_pci", "virtio_blk", "ramoops"]
            .into_iter()
            .filter(|m| d.has(m))
            .collect();
        let mods = d.closure(&wanted).unwrap();
        assert_topological(&mods, &d);
        for m in &mods {
            assert!(dir.join(&m.rel_path).exists(), "{}", m.rel_path);
        }
        if d.has("ramoops") {
            let rs = mods.iter().position(|m| m.name == "reed_solomon");
            let ro = mods.iter().position(|m| m.name == "ramoops");
            assert!(rs < ro);
        }
    }
}
