//! What a file is, from its bytes alone, and whether an asset of a kind may be it. The
//! client's content type and file name are claims: when they name a type, it must be the
//! one the bytes are.

use arena_entity::assets::asset::AssetKind;

use crate::error::{ApiError, ApiResult};

pub const PNG: &str = "image/png";
pub const JPEG: &str = "image/jpeg";
pub const WEBP: &str = "image/webp";
pub const KTX2: &str = "image/ktx2";
pub const GLB: &str = "model/gltf-binary";
pub const GLTF: &str = "model/gltf+json";
pub const OBJ: &str = "model/obj";
pub const JSON: &str = "application/json";
pub const OGG: &str = "audio/ogg";
pub const MP3: &str = "audio/mpeg";
pub const WAV: &str = "audio/wav";
pub const FLAC: &str = "audio/flac";

const MIB: usize = 1024 * 1024;

/// Longest side of an image, in pixels.
pub const MAX_SIDE: u32 = 8192;
/// Most pixels of an image: a small file that decodes to more is a decompression bomb.
pub const MAX_PIXELS: u64 = 32 * 1024 * 1024;
/// Longest original file name, in characters.
pub const MAX_NAME: usize = 255;
/// Longest tag, in characters.
pub const MAX_TAG: usize = 255;

/// The formats and size an asset of `kind` may have.
pub fn limits(kind: AssetKind) -> (&'static [&'static str], usize) {
    match kind {
        AssetKind::Image | AssetKind::Texture => (&[PNG, JPEG, WEBP], 16 * MIB),
        AssetKind::Texture3d => (&[KTX2], 64 * MIB),
        AssetKind::Mesh | AssetKind::Animation | AssetKind::Character => {
            (&[GLB, GLTF, OBJ], 32 * MIB)
        }
        AssetKind::Gameobject | AssetKind::World => (&[JSON], 4 * MIB),
        AssetKind::Sound => (&[OGG, MP3, WAV, FLAC], 32 * MIB),
    }
}

/// The largest file any kind takes: the multipart request's limit.
pub fn largest() -> usize {
    use sea_orm::Iterable;
    AssetKind::iter().map(|k| limits(k).1).max().unwrap_or(0)
}

/// The type the bytes are, when Arena knows it.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"glTF") {
        return Some(GLB);
    }
    if bytes.starts_with(b"\xABKTX 20\xBB\r\n\x1A\n") {
        return Some(KTX2);
    }
    if let Some(found) = infer::get(bytes) {
        return match found.mime_type() {
            "image/png" => Some(PNG),
            "image/jpeg" => Some(JPEG),
            "image/webp" => Some(WEBP),
            "audio/ogg" => Some(OGG),
            "audio/mpeg" => Some(MP3),
            "audio/x-wav" => Some(WAV),
            "audio/x-flac" => Some(FLAC),
            _ => None,
        };
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let gltf = value.get("asset").and_then(|a| a.get("version")).is_some();
        return Some(if gltf { GLTF } else { JSON });
    }
    looks_like_obj(text).then_some(OBJ)
}

/// Wavefront OBJ: text of known statements, with at least one vertex.
fn looks_like_obj(text: &str) -> bool {
    let mut vertices = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            None => {}
            Some(word) if word.starts_with('#') => {}
            Some("v") => vertices = true,
            Some("vt" | "vn" | "vp" | "f" | "l" | "p" | "o" | "g" | "s" | "mtllib" | "usemtl") => {}
            Some(_) => return false,
        }
    }
    vertices
}

/// The type a client's content type or file extension names, when it names one.
fn claimed(content_type: Option<&str>, name: &str) -> Option<&'static str> {
    let by_type = content_type
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .and_then(|t| match t.as_str() {
            "image/png" => Some(PNG),
            "image/jpeg" | "image/jpg" => Some(JPEG),
            "image/webp" => Some(WEBP),
            "image/ktx2" => Some(KTX2),
            "model/gltf-binary" => Some(GLB),
            "model/gltf+json" => Some(GLTF),
            "model/obj" => Some(OBJ),
            "audio/ogg" => Some(OGG),
            "audio/mpeg" | "audio/mp3" => Some(MP3),
            "audio/wav" | "audio/x-wav" | "audio/wave" => Some(WAV),
            "audio/flac" | "audio/x-flac" => Some(FLAC),
            // application/json, text/plain, application/octet-stream: no claim.
            _ => None,
        });
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let by_name = extension.and_then(|e| match e.as_str() {
        "png" => Some(PNG),
        "jpg" | "jpeg" => Some(JPEG),
        "webp" => Some(WEBP),
        "ktx2" => Some(KTX2),
        "glb" => Some(GLB),
        "gltf" => Some(GLTF),
        "obj" => Some(OBJ),
        "json" => Some(JSON),
        "ogg" => Some(OGG),
        "mp3" => Some(MP3),
        "wav" => Some(WAV),
        "flac" => Some(FLAC),
        _ => None,
    });
    by_type.or(by_name)
}

/// A file name as stored: a plain name, never a path.
pub fn file_name(raw: &str) -> ApiResult<String> {
    let name = raw.trim();
    let refused = name.is_empty()
        || name.chars().count() > MAX_NAME
        || name.contains(['/', '\\'])
        || name.contains("..")
        || name.chars().any(char::is_control);
    if refused {
        return Err(ApiError::bad_input(
            "fileName",
            format!(
                "a file name is 1 to {MAX_NAME} characters, without slashes, `..` or control characters"
            ),
        ));
    }
    Ok(name.to_owned())
}

/// The type of `bytes` when an asset of `kind` may hold them; every refusal is
/// `BAD_USER_INPUT` on `file`.
pub fn check(
    kind: AssetKind,
    bytes: &[u8],
    content_type: Option<&str>,
    name: &str,
) -> ApiResult<&'static str> {
    let (formats, max) = limits(kind);
    if bytes.is_empty() {
        return Err(ApiError::bad_input("file", "the file is empty"));
    }
    if bytes.len() > max {
        return Err(ApiError::bad_input(
            "file",
            format!("a {kind:?} asset is at most {max} bytes"),
        ));
    }
    let Some(mime) = sniff(bytes) else {
        return Err(ApiError::bad_input(
            "file",
            format!("the bytes are of no known type; a {kind:?} asset is one of {formats:?}"),
        ));
    };
    if let Some(claim) = claimed(content_type, name)
        && claim != mime
    {
        return Err(ApiError::bad_input(
            "file",
            format!("the file is said to be {claim} but its bytes are {mime}"),
        ));
    }
    if !formats.contains(&mime) {
        return Err(ApiError::bad_input(
            "file",
            format!("a {kind:?} asset is one of {formats:?}, not {mime}"),
        ));
    }
    inspect(mime, bytes).map_err(|why| ApiError::bad_input("file", why))?;
    Ok(mime)
}

/// Reads enough of the file to know it is sound and not a bomb, without decoding it whole.
fn inspect(mime: &str, bytes: &[u8]) -> Result<(), String> {
    match mime {
        PNG | JPEG | WEBP => {
            let (width, height) = image::ImageReader::new(std::io::Cursor::new(bytes))
                .with_guessed_format()
                .map_err(|e| format!("unreadable image: {e}"))?
                .into_dimensions()
                .map_err(|e| format!("unreadable image: {e}"))?;
            if width == 0 || height == 0 {
                return Err("the image has no pixels".into());
            }
            if width > MAX_SIDE
                || height > MAX_SIDE
                || u64::from(width) * u64::from(height) > MAX_PIXELS
            {
                return Err(format!(
                    "the image is {width}×{height} pixels; at most {MAX_SIDE} a side and {MAX_PIXELS} in all"
                ));
            }
            Ok(())
        }
        GLB | GLTF => gltf::Gltf::from_slice(bytes)
            .map(|_| ())
            .map_err(|e| format!("malformed glTF: {e}")),
        OBJ => crate::assets::render::obj_triangles(bytes).map(|_| ()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_paths_are_refused() {
        for name in [
            "../etc/passwd",
            "a/b.png",
            "a\\b.png",
            "..",
            "x\u{0}.png",
            "",
        ] {
            assert!(file_name(name).is_err(), "{name:?}");
        }
        assert_eq!(file_name(" hat.png ").ok().as_deref(), Some("hat.png"));
    }

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"glTF\x02\0\0\0"), Some(GLB));
        assert_eq!(
            sniff(b"# cube\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"),
            Some(OBJ)
        );
        assert_eq!(sniff(br#"{"asset":{"version":"2.0"}}"#), Some(GLTF));
        assert_eq!(sniff(br#"{"blocks":[]}"#), Some(JSON));
        assert_eq!(sniff(b"hello there"), None);
        assert_eq!(claimed(Some("image/jpg"), "x"), Some(JPEG));
        assert_eq!(
            claimed(Some("application/octet-stream"), "x.glb"),
            Some(GLB)
        );
        assert_eq!(claimed(None, "readme"), None);
    }
}
