//! The QR code of the sign-in page, drawn with Unicode half blocks so a
//! phone can open the page (with the code filled in, where the provider
//! gives such a link), and only where the window can hold it.

use qrcodegen::{QrCode, QrCodeEcc};

/// The QR code's quiet zone, in modules (ISO/IEC 18004 asks for 4).
const QUIET: i32 = 4;

/// Lines of the sign-in screen besides the QR code; the window must hold
/// them too, or the QR code is left out.
const SCREEN_LINES: u16 = 12;

/// The QR code of `text` drawn with Unicode half blocks, quiet zone
/// included: two module rows per line, the dark modules in ink (`▀` top,
/// `▄` bottom, `█` both). `None` if `text` is too long for a QR code.
fn qr_rows(text: &str) -> Option<Vec<String>> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Low).ok()?;
    let (lo, hi) = (-QUIET, qr.size() + QUIET);
    let rows = (lo..hi)
        .step_by(2)
        .map(|y| {
            (lo..hi)
                .map(|x| match (qr.get_module(x, y), qr.get_module(x, y + 1)) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                })
                .collect()
        })
        .collect();
    Some(rows)
}

/// Why the screen has no QR code.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NoQr {
    /// The window of `have` (columns, rows) is smaller than the `need`ed.
    TooSmall {
        /// The window it needs.
        need: (usize, usize),
        /// The window it has.
        have: (u16, u16),
    },
    /// The page is too long for a QR code.
    TooLong,
}

impl NoQr {
    /// The line that says why, where the person can do something about it.
    pub(super) fn line(&self) -> Option<String> {
        match self {
            NoQr::TooSmall { need, have } => Some(format!(
                "No QR code: the window ({}x{}) is too small; the QR code needs {}x{} or more.\n",
                have.0, have.1, need.0, need.1
            )),
            NoQr::TooLong => None,
        }
    }
}

/// The QR code block for a window of `cols` x `rows`, or why there is
/// none. With `colour`, black on white whatever the theme.
pub(super) fn qr_block(text: &str, cols: u16, rows: u16, colour: bool) -> Result<String, NoQr> {
    let lines = qr_rows(text).ok_or(NoQr::TooLong)?;
    let width = lines.first().map_or(0, |l| l.chars().count());
    let need = (width, lines.len() + usize::from(SCREEN_LINES));
    if need.0 > usize::from(cols) || need.1 > usize::from(rows) {
        return Err(NoQr::TooSmall {
            need,
            have: (cols, rows),
        });
    }
    let mut out = String::new();
    for line in lines {
        if colour {
            out.push_str(&format!("\x1b[30;107m{line}\x1b[0m\n"));
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a half-block rendering back into module rows.
    fn decode(rows: &[String]) -> Vec<Vec<bool>> {
        let mut out = Vec::new();
        for row in rows {
            let (mut top, mut bottom) = (Vec::new(), Vec::new());
            for c in row.chars() {
                let (t, b) = match c {
                    '█' => (true, true),
                    '▀' => (true, false),
                    '▄' => (false, true),
                    ' ' => (false, false),
                    other => panic!("unexpected {other:?} in the QR code"),
                };
                top.push(t);
                bottom.push(b);
            }
            out.push(top);
            out.push(bottom);
        }
        out
    }

    #[test]
    fn qr_rendering_decodes_to_the_encoders_modules_with_a_quiet_zone() {
        for text in [
            "https://microsoft.com/devicelogin",
            "http://127.0.0.1:4242/devicelogin?otc=ABCD1234",
            "x",
        ] {
            let qr = QrCode::encode_text(text, QrCodeEcc::Low).unwrap();
            let rows = qr_rows(text).unwrap();
            let side = (qr.size() + 2 * QUIET) as usize;
            assert_eq!(rows.len(), side.div_ceil(2));
            let m = decode(&rows);
            // The odd last half row is light padding.
            assert!(m[side..].iter().flatten().all(|d| !d));
            for (y, row) in m[..side].iter().enumerate() {
                assert_eq!(row.len(), side);
                for (x, &dark) in row.iter().enumerate() {
                    let (qx, qy) = (x as i32 - QUIET, y as i32 - QUIET);
                    assert_eq!(dark, qr.get_module(qx, qy), "{text}: module {qx},{qy}");
                }
            }
        }
    }

    #[test]
    fn qr_block_needs_room_and_is_plain_without_colour() {
        let url = "https://microsoft.com/devicelogin";
        let width = qr_rows(url).unwrap()[0].chars().count() as u16;
        let height = qr_rows(url).unwrap().len() as u16;
        let need = (usize::from(width), usize::from(height + SCREEN_LINES));
        assert_eq!(
            qr_block(url, width - 1, 100, true),
            Err(NoQr::TooSmall {
                need,
                have: (width - 1, 100)
            })
        );
        let small = qr_block(url, 80, height + SCREEN_LINES - 1, true).unwrap_err();
        assert_eq!(
            small.line().unwrap(),
            format!(
                "No QR code: the window (80x{}) is too small; the QR code needs {}x{} or more.\n",
                need.1 - 1,
                need.0,
                need.1
            )
        );
        let plain = qr_block(url, width, height + SCREEN_LINES, false).unwrap();
        assert!(!plain.contains('\x1b'));
        assert_eq!(plain.lines().count(), height as usize);
        let styled = qr_block(url, width, height + SCREEN_LINES, true).unwrap();
        assert!(styled.lines().all(|l| l.starts_with("\x1b[30;107m")));
        assert!(qr_rows(&"x".repeat(8000)).is_none());
    }
}
