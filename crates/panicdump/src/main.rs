//! `panicdump`: make Linux kernel crashes visible and debuggable.
//!
//! The binary is glue: argument parsing, output formatting and progress. All
//! the work happens in the library crates under `crates/`.

mod cmd;
mod kernel;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Harvest, read and explain Linux kernel crashes (kdump vmcores, pstore).
#[derive(Parser, Debug)]
#[command(name = "panicdump", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Prepare this machine to keep crash data: pstore, crash kernel, panic sysctls.
    Arm(Box<cmd::arm::ArmArgs>),
    /// Inside the crash kernel: save dmesg, then a filtered compressed dump, then reboot.
    Capture(cmd::capture::CaptureArgs),
    /// At boot: harvest pstore records and captured dumps into crash records.
    Collect(cmd::collect::CollectArgs),
    /// Whether this machine is armed for crashes, and why not.
    Status(cmd::arm::StatusArgs),
    /// Recommend a crashkernel= size, with its breakdown.
    Estimate(cmd::arm::EstimateArgs),
    /// Make this machine crash-ready across reboots (boot loader, sysctl.d, units); --undo takes it back.
    Setup(cmd::setup::SetupArgs),
    /// Crash this machine on purpose to prove capture works; --report after the reboot.
    Test(cmd::selftest::TestArgs),
    /// Check or show the configuration (/etc/panicdump/config.toml).
    Config(cmd::config::ConfigArgs),
    /// List the crash records collected on this machine.
    List(cmd::records::ListArgs),
    /// Show one crash record (an id, or `latest`).
    Show(cmd::records::ShowArgs),
    /// Write a shareable, redacted report bundle of a crash record.
    Report(cmd::records::ReportArgs),
    /// Delete old crash records by the retention policy (count, age, size).
    Prune(cmd::records::PruneArgs),
    /// Print the kernel log stored in a crash dump (like `makedumpfile --dump-dmesg`).
    Dmesg(cmd::dmesg::DmesgArgs),
    /// Filter and compress a crash dump (like makedumpfile): kdump-compressed, ELF or flattened.
    Dump(cmd::dump::DumpArgs),
    /// Describe a crash dump: format, kernel, crash time, panic message, CPUs, pages.
    Info(cmd::info::InfoArgs),
    /// Print the title of the crash found in a kernel log (nothing if none).
    Title(cmd::analyze::TitleArgs),
    /// Analyze a kernel log: crash kind, title, signature, call trace, registers.
    Analyze(cmd::analyze::AnalyzeArgs),
    /// Decode the kernel log a panic screen's QR code (drm_panic) links to; --save keeps it as a record.
    Qr(cmd::qr::QrArgs),
    /// Crash real kernels under QEMU and collect what they leave behind.
    Lab(cmd::lab::LabArgs),
    /// Generate man pages and shell completions from this CLI (for packagers).
    #[command(hide = true)]
    Generate(cmd::generate::GenerateArgs),
    /// Send crash records to a crash server (queue, retry, daily limits; needs consent).
    #[cfg(feature = "submit")]
    Submit(cmd::submit::SubmitArgs),
    /// Run the crash server: ingest report bundles, deduplicate, statistics, dashboard.
    #[cfg(feature = "server")]
    Serve(cmd::serve::ServeArgs),
    /// Administer a crash server: client tokens, retention of bundles, export.
    #[cfg(feature = "server")]
    Server(cmd::serve::ServerArgs),
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`panicdump info
    // | head`) would panic. Behave like every Unix filter instead: die
    // quietly from the signal.
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // As the crash kernel's /init (PID 1, started with no arguments) the
    // binary runs the capture with settings from the kernel command line.
    let cli = if std::process::id() == 1 && std::env::args_os().len() <= 1 {
        Cli::parse_from(["panicdump", "capture", "--from-cmdline"])
    } else {
        Cli::parse()
    };
    let result = match cli.command {
        Command::Arm(a) => cmd::arm::run(*a),
        Command::Capture(a) => cmd::capture::run_capture(a),
        Command::Collect(a) => cmd::collect::run_collect(a),
        Command::Status(a) => cmd::arm::run_status(a),
        Command::Estimate(a) => cmd::arm::run_estimate(a),
        Command::Setup(a) => cmd::setup::run(a),
        Command::Test(a) => cmd::selftest::run(a),
        Command::Config(a) => cmd::config::run(a),
        Command::List(a) => cmd::records::run_list(a),
        Command::Show(a) => cmd::records::run_show(a),
        Command::Report(a) => cmd::records::run_report(a),
        Command::Prune(a) => cmd::records::run_prune(a),
        Command::Dmesg(a) => cmd::dmesg::run(a),
        Command::Dump(a) => cmd::dump::run(a),
        Command::Info(a) => cmd::info::run(a),
        Command::Title(a) => cmd::analyze::run_title(a),
        Command::Analyze(a) => cmd::analyze::run_analyze(a),
        Command::Qr(a) => cmd::qr::run(a),
        Command::Lab(a) => cmd::lab::run(a),
        Command::Generate(a) => cmd::generate::run(a),
        #[cfg(feature = "submit")]
        Command::Submit(a) => cmd::submit::run(a),
        #[cfg(feature = "server")]
        Command::Serve(a) => cmd::serve::run_serve(a),
        #[cfg(feature = "server")]
        Command::Server(a) => cmd::serve::run_server(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("panicdump: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
