//! Thumbnails: images resized, meshes drawn by a small software rasterizer (flat-shaded
//! triangles over a z-buffer, seen from above and to the side). Pure functions of the
//! file's bytes; every fault is an error with the reason, never a panic.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgba, RgbaImage, imageops::FilterType};

use super::check::{GLB, GLTF, JPEG, MAX_SIDE, OBJ, PNG, WEBP};

/// Thumbnails fit in a square of this many pixels.
pub const SIZE: u32 = 256;
/// Meshes are drawn this many times larger, then scaled down, to smooth their edges.
const SUPERSAMPLE: u32 = 2;
/// Most triangles a mesh may have to be drawn.
pub const MAX_TRIANGLES: usize = 2_000_000;
/// Most memory one image may take while decoded.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// One thumbnail in both formats.
pub struct Thumbnail {
    pub png: Vec<u8>,
    pub webp: Vec<u8>,
}

/// Whether Arena draws thumbnails of files of this type.
pub fn renders(mime: &str) -> bool {
    matches!(mime, PNG | JPEG | WEBP | GLB | GLTF | OBJ)
}

/// The thumbnail of a file of type `mime`.
pub fn render(mime: &str, bytes: &[u8]) -> Result<Thumbnail, String> {
    let picture = match mime {
        PNG | JPEG | WEBP => image_thumbnail(bytes)?,
        GLB | GLTF => draw(&gltf_triangles(bytes)?)?,
        OBJ => draw(&obj_triangles(bytes)?)?,
        other => return Err(format!("no thumbnails of {other}")),
    };
    encode(&DynamicImage::ImageRgba8(picture))
}

fn encode(picture: &DynamicImage) -> Result<Thumbnail, String> {
    let mut png = Cursor::new(Vec::new());
    picture
        .write_to(&mut png, ImageFormat::Png)
        .map_err(|e| format!("PNG encoding: {e}"))?;
    let mut webp = Cursor::new(Vec::new());
    picture
        .write_to(&mut webp, ImageFormat::WebP)
        .map_err(|e| format!("WebP encoding: {e}"))?;
    Ok(Thumbnail {
        png: png.into_inner(),
        webp: webp.into_inner(),
    })
}

fn image_thumbnail(bytes: &[u8]) -> Result<RgbaImage, String> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("unreadable image: {e}"))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| format!("unreadable image: {e}"))?;
    Ok(decoded.thumbnail(SIZE, SIZE).to_rgba8())
}

type Vec3 = [f32; 3];
type Triangle = [Vec3; 3];

/// The triangles of a glTF or GLB file's default scene, in world space. Buffers must be in
/// the GLB or inline as data URIs: a stored file has nothing beside it.
pub fn gltf_triangles(bytes: &[u8]) -> Result<Vec<Triangle>, String> {
    use base64::Engine as _;
    let gltf = gltf::Gltf::from_slice(bytes).map_err(|e| format!("malformed glTF: {e}"))?;
    let mut buffers = Vec::new();
    for buffer in gltf.buffers() {
        let data = match buffer.source() {
            gltf::buffer::Source::Bin => gltf
                .blob
                .clone()
                .ok_or("the GLB has no binary chunk for its buffer")?,
            gltf::buffer::Source::Uri(uri) => {
                let Some((_, encoded)) = uri
                    .strip_prefix("data:")
                    .and_then(|rest| rest.split_once(";base64,"))
                else {
                    return Err(format!("buffer {uri:?} is outside the file"));
                };
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|e| format!("buffer data URI: {e}"))?
            }
        };
        if data.len() < buffer.length() {
            return Err(format!(
                "buffer {} holds {} bytes, not the {} it declares",
                buffer.index(),
                data.len(),
                buffer.length()
            ));
        }
        buffers.push(data);
    }
    let mut triangles = Vec::new();
    let scene = gltf.default_scene().or_else(|| gltf.scenes().next());
    let roots: Vec<gltf::Node<'_>> = match scene {
        Some(scene) => scene.nodes().collect(),
        None => gltf.nodes().collect(),
    };
    let mut stack: Vec<(gltf::Node<'_>, Mat4, usize)> =
        roots.into_iter().map(|n| (n, IDENTITY, 0)).collect();
    while let Some((node, parent, depth)) = stack.pop() {
        if depth > 64 {
            return Err("the node tree is deeper than 64".into());
        }
        let world = multiply(&parent, &node.transform().matrix());
        if let Some(mesh) = node.mesh() {
            for primitive in mesh.primitives() {
                if primitive.mode() != gltf::mesh::Mode::Triangles {
                    continue;
                }
                let reader = primitive.reader(|b| buffers.get(b.index()).map(Vec::as_slice));
                let positions: Vec<Vec3> = reader
                    .read_positions()
                    .ok_or("a primitive has no readable positions")?
                    .map(|p| transform(&world, p))
                    .collect();
                let indices: Vec<u32> = match reader.read_indices() {
                    Some(indices) => indices.into_u32().collect(),
                    None => (0..u32::try_from(positions.len()).map_err(|_| "too many vertices")?)
                        .collect(),
                };
                push_indexed(&mut triangles, &positions, &indices)?;
            }
        }
        stack.extend(node.children().map(|c| (c, world, depth + 1)));
    }
    Ok(triangles)
}

/// The triangles of a Wavefront OBJ file (materials are not read).
pub fn obj_triangles(bytes: &[u8]) -> Result<Vec<Triangle>, String> {
    let options = tobj::LoadOptions {
        triangulate: true,
        single_index: true,
        ..Default::default()
    };
    let (models, _materials) = tobj::load_obj_buf(&mut Cursor::new(bytes), &options, |_| {
        Err(tobj::LoadError::OpenFileFailed)
    })
    .map_err(|e| format!("malformed OBJ: {e}"))?;
    let mut triangles = Vec::new();
    for model in models {
        let positions: Vec<Vec3> = model
            .mesh
            .positions
            .chunks_exact(3)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        push_indexed(&mut triangles, &positions, &model.mesh.indices)?;
    }
    Ok(triangles)
}

fn push_indexed(
    out: &mut Vec<Triangle>,
    positions: &[Vec3],
    indices: &[u32],
) -> Result<(), String> {
    for corners in indices.chunks_exact(3) {
        let mut triangle = [[0.0; 3]; 3];
        for (slot, &index) in triangle.iter_mut().zip(corners) {
            *slot = *positions
                .get(index as usize)
                .ok_or_else(|| format!("index {index} is past the {} vertices", positions.len()))?;
        }
        out.push(triangle);
        if out.len() > MAX_TRIANGLES {
            return Err(format!("the mesh has more than {MAX_TRIANGLES} triangles"));
        }
    }
    Ok(())
}

type Mat4 = [[f32; 4]; 4];
const IDENTITY: Mat4 = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.0, 0.0, 0.0, 1.0],
];

/// `a · b` of column-major matrices, as glTF writes them.
fn multiply(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut out = [[0.0; 4]; 4];
    for (col, out_col) in out.iter_mut().enumerate() {
        for (row, cell) in out_col.iter_mut().enumerate() {
            *cell = (0..4).map(|k| a[k][row] * b[col][k]).sum();
        }
    }
    out
}

fn transform(m: &Mat4, p: Vec3) -> Vec3 {
    let mut out = [0.0; 3];
    for (row, cell) in out.iter_mut().enumerate() {
        *cell = m[0][row] * p[0] + m[1][row] * p[1] + m[2][row] * p[2] + m[3][row];
    }
    out
}

fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: Vec3, b: Vec3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Draws `triangles` fitted to the picture, seen from 35° to the side and 25° above,
/// flat-shaded by one light, on a transparent background.
fn draw(triangles: &[Triangle]) -> Result<RgbaImage, String> {
    if triangles.is_empty() {
        return Err("the mesh has no triangles".into());
    }
    if triangles.iter().flatten().flatten().any(|c| !c.is_finite()) {
        return Err("the mesh has coordinates that are not finite numbers".into());
    }
    let (mut low, mut high) = ([f32::MAX; 3], [f32::MIN; 3]);
    for p in triangles.iter().flatten() {
        for axis in 0..3 {
            low[axis] = low[axis].min(p[axis]);
            high[axis] = high[axis].max(p[axis]);
        }
    }
    let center = [0, 1, 2].map(|a| (low[a] + high[a]) / 2.0);
    let radius = triangles
        .iter()
        .flatten()
        .map(|p| dot(sub(*p, center), sub(*p, center)).sqrt())
        .fold(0.0_f32, f32::max)
        .max(f32::EPSILON);
    let (yaw, pitch) = (35_f32.to_radians(), 25_f32.to_radians());
    let view = |p: Vec3| -> Vec3 {
        let [x, y, z] = sub(p, center).map(|c| c / radius);
        let (x, z) = (x * yaw.cos() - z * yaw.sin(), x * yaw.sin() + z * yaw.cos());
        let (y, z) = (
            y * pitch.cos() - z * pitch.sin(),
            y * pitch.sin() + z * pitch.cos(),
        );
        [x, y, z]
    };
    let side = SIZE * SUPERSAMPLE;
    #[allow(clippy::cast_precision_loss)] // a few hundred pixels
    let scale = side as f32 / 2.0 * 0.92;
    let light = {
        let l = [0.4_f32, 0.7, 0.6];
        let n = dot(l, l).sqrt();
        l.map(|c| c / n)
    };
    let mut depth = vec![f32::MIN; (side * side) as usize];
    let mut picture = RgbaImage::from_pixel(side, side, Rgba([0, 0, 0, 0]));
    for triangle in triangles {
        let v = triangle.map(view);
        let normal = cross(sub(v[1], v[0]), sub(v[2], v[0]));
        let length = dot(normal, normal).sqrt();
        if length <= f32::EPSILON {
            continue;
        }
        let shade = 0.3 + 0.7 * (dot(normal, light) / length).abs();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // 0..=255
        let color = Rgba([
            (190.0 * shade) as u8,
            (200.0 * shade) as u8,
            (220.0 * shade) as u8,
            255,
        ]);
        // Screen space: x right, y down, z towards the viewer.
        let s = v.map(|p| {
            [
                scale * p[0] + scale / 0.92,
                scale / 0.92 - scale * p[1],
                p[2],
            ]
        });
        fill(&s, side, &mut depth, &mut picture, color);
    }
    let smaller = image::imageops::resize(&picture, SIZE, SIZE, FilterType::Triangle);
    Ok(smaller)
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)] // pixel coordinates, clamped to the picture
fn fill(s: &[Vec3; 3], side: u32, depth: &mut [f32], picture: &mut RgbaImage, color: Rgba<u8>) {
    let edge =
        |a: Vec3, b: Vec3, x: f32, y: f32| (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
    let area = edge(s[0], s[1], s[2][0], s[2][1]);
    if area.abs() <= f32::EPSILON {
        return;
    }
    let max = side as f32 - 1.0;
    let x0 = s
        .iter()
        .map(|p| p[0])
        .fold(f32::MAX, f32::min)
        .clamp(0.0, max) as u32;
    let x1 = s
        .iter()
        .map(|p| p[0])
        .fold(f32::MIN, f32::max)
        .clamp(0.0, max) as u32;
    let y0 = s
        .iter()
        .map(|p| p[1])
        .fold(f32::MAX, f32::min)
        .clamp(0.0, max) as u32;
    let y1 = s
        .iter()
        .map(|p| p[1])
        .fold(f32::MIN, f32::max)
        .clamp(0.0, max) as u32;
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let w0 = edge(s[1], s[2], px, py) / area;
            let w1 = edge(s[2], s[0], px, py) / area;
            let w2 = 1.0 - w0 - w1;
            if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                continue;
            }
            let z = w0 * s[0][2] + w1 * s[1][2] + w2 * s[2][2];
            let at = (y * side + x) as usize;
            if z > depth[at] {
                depth[at] = z;
                picture.put_pixel(x, y, color);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUBE: &str = "v -1 -1 -1\nv 1 -1 -1\nv 1 1 -1\nv -1 1 -1\nv -1 -1 1\nv 1 -1 1\nv 1 1 1\nv -1 1 1\n\
        f 1 2 3 4\nf 5 8 7 6\nf 1 5 6 2\nf 2 6 7 3\nf 3 7 8 4\nf 5 1 4 8\n";

    #[test]
    fn a_cube_is_drawn_shaded_in_the_middle() {
        let triangles = obj_triangles(CUBE.as_bytes()).unwrap();
        assert_eq!(triangles.len(), 12);
        let picture = draw(&triangles).unwrap();
        assert_eq!(picture.dimensions(), (SIZE, SIZE));
        assert_eq!(picture.get_pixel(0, 0)[3], 0, "the corner is background");
        let middle = picture.get_pixel(SIZE / 2, SIZE / 2);
        assert_eq!(middle[3], 255, "the middle is the cube");
        // Three faces are seen, each lit differently.
        let shades: std::collections::BTreeSet<u8> = [
            (SIZE / 2, SIZE / 4),
            (SIZE / 3, SIZE * 2 / 3),
            (SIZE * 2 / 3, SIZE * 2 / 3),
        ]
        .iter()
        .map(|&(x, y)| picture.get_pixel(x, y)[0])
        .collect();
        assert!(shades.len() >= 2, "{shades:?}");
    }

    #[test]
    fn faults_are_reasons() {
        assert!(obj_triangles(b"v 0 0 0\nf 1 2 3\n").is_err());
        assert!(draw(&[]).is_err());
        assert!(draw(&[[[f32::NAN, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]).is_err());
        assert!(gltf_triangles(b"glTF garbage").is_err());
        assert!(render(PNG, b"\x89PNG\r\n\x1a\nnot really").is_err());
    }
}
