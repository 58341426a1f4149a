use std::io::Write;
use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::civil::civil_from_days;
use crate::tree::{Entry, Tree};
use crate::{write_atomically, Error};

/// Writes `tree` to `out` as a deflated zip, replacing `out` atomically.
///
/// Each entry carries unix permissions in its external attributes (so
/// `unzip` restores execute bits), the DOS time of `mtime` in UTC, and no
/// extra fields.
pub fn write_zip(tree: &Tree, mtime: u64, out: &Path) -> Result<(), Error> {
    let at_out = |source| Error::Io {
        path: out.to_path_buf(),
        source,
    };
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        // Explicit, so a change of the zip crate's default cannot change the bytes.
        .compression_level(Some(9))
        .last_modified_time(dos_time(mtime));
    write_atomically(out, |file| {
        let mut zip = ZipWriter::new(file);
        for (path, entry) in tree.entries() {
            let options = options.unix_permissions(entry.mode());
            match entry {
                Entry::Dir => zip.add_directory(path, options),
                Entry::File { contents, .. } => {
                    let data = contents.read()?;
                    zip.start_file(path, options)
                        .and_then(|()| Ok(zip.write_all(&data)?))
                }
                Entry::Symlink(target) => zip.add_symlink(path, target, options),
            }
            .map_err(|e| at_out(e.into()))?;
        }
        zip.finish().map_err(|e| at_out(e.into()))?;
        Ok(())
    })
}

/// `mtime` as a DOS timestamp in UTC, clamped to the range DOS can store
/// (1980-01-01 to 2107-12-31); DOS keeps seconds only to 2 s.
fn dos_time(mtime: u64) -> DateTime {
    const DOS_MIN: u64 = 315_532_800; // 1980-01-01T00:00:00Z
    const DOS_MAX: u64 = 4_354_819_199; // 2107-12-31T23:59:59Z
    let secs = mtime.clamp(DOS_MIN, DOS_MAX);
    let (year, month, day) = civil_from_days(secs / 86_400);
    let time = secs % 86_400;
    DateTime::from_date_and_time(
        year,
        month,
        day,
        (time / 3600) as u8,
        (time / 60 % 60) as u8,
        (time % 60) as u8,
    )
    .expect("clamped into the DOS range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(time: DateTime) -> (u16, u8, u8, u8, u8, u8) {
        let t = time;
        (
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
        )
    }

    #[test]
    fn dos_time_is_utc_and_clamped() {
        // `date -u -d '2024-02-29 13:45:58' +%s`
        assert_eq!(parts(dos_time(1_709_214_358)), (2024, 2, 29, 13, 45, 58));
        assert_eq!(parts(dos_time(0)), (1980, 1, 1, 0, 0, 0));
        assert_eq!(parts(dos_time(u64::MAX)), (2107, 12, 31, 23, 59, 58));
        // 2000-03-01, the day after a 400-year leap day.
        assert_eq!(parts(dos_time(951_868_800)), (2000, 3, 1, 0, 0, 0));
    }
}
