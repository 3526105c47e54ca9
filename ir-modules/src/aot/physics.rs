//! AOT baseline of the Verlet particle step (see `physics_step.bfir`).

use super::{AotError, check_len, dims};

/// One step for `n` particles; `params` = [dt, gravity, width, height, radius, damping].
#[inline(always)]
pub fn physics_step(
    x: &mut [f32],
    y: &mut [f32],
    px: &mut [f32],
    py: &mut [f32],
    params: &[f32],
    n: i32,
) -> Result<(), AotError> {
    let [n] = dims([n]);
    check_len(params.len(), 6)?;
    for len in [x.len(), y.len(), px.len(), py.len()] {
        check_len(len, n)?;
    }
    let (dt, gravity, width, height, r, damping) = (
        params[0], params[1], params[2], params[3], params[4], params[5],
    );
    for i in 0..n {
        let vx = (x[i] - px[i]) * damping;
        let vy = (y[i] - py[i]) * damping;
        px[i] = x[i];
        py[i] = y[i];
        x[i] += vx;
        y[i] = y[i] + vy + gravity * dt * dt;
    }
    let min_dist = 2.0f32 * r;
    let min_dist2 = min_dist * min_dist;
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[j] - x[i];
            let dy = y[j] - y[i];
            let d2 = dx * dx + dy * dy;
            if d2 < min_dist2 && d2 > 0.0 {
                let d = libm::sqrtf(d2);
                let push = 0.5f32 * (min_dist - d) / d;
                x[i] -= dx * push;
                y[i] -= dy * push;
                x[j] += dx * push;
                y[j] += dy * push;
            }
        }
    }
    let x_max = width - r;
    let y_max = height - r;
    for i in 0..n {
        if x[i] < r {
            let v = x[i] - px[i];
            x[i] = r;
            px[i] = r + v;
        } else if x[i] > x_max {
            let v = x[i] - px[i];
            x[i] = x_max;
            px[i] = x_max + v;
        }
        if y[i] < r {
            let v = y[i] - py[i];
            y[i] = r;
            py[i] = r + v;
        } else if y[i] > y_max {
            let v = y[i] - py[i];
            y[i] = y_max;
            py[i] = y_max + v;
        }
    }
    Ok(())
}
