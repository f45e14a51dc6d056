//! `wms-dist OUT_DIR`: writes the man pages (`OUT_DIR/man`) and the bash, zsh and fish
//! completions (`OUT_DIR/completions`) of `wms` and `wmsd`. Exit status 0 when written, 1
//! when a file could not be written, 2 for a usage error.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out] = args.as_slice() else {
        eprintln!("usage: wms-dist OUT_DIR   (writes OUT_DIR/man and OUT_DIR/completions)");
        return ExitCode::from(2);
    };
    match wms_dist::write_all(std::path::Path::new(out)) {
        Ok(w) => {
            for p in w.man_pages.iter().chain(&w.completions) {
                println!("{}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wms-dist: cannot write into {out}: {e}");
            ExitCode::FAILURE
        }
    }
}
