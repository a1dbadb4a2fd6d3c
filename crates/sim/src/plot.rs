//! SVG plots of results (`plot` feature): `plotters` with its SVG backend only; text is left to the SVG viewer
//! (no font files are read).

use crate::{Comparison, Error, Mechanism, Report, Result};
use plotters::{coord::Shift, prelude::*};
use std::path::{Path, PathBuf};

const SIZE: (u32, u32) = (860, 520);
const FONT: &str = "sans-serif";

fn color(m: Mechanism) -> RGBColor {
    match m {
        Mechanism::OrderBook => RGBColor(0xd6, 0x27, 0x28),
        Mechanism::ProofRace => RGBColor(0x1f, 0x77, 0xb4),
        Mechanism::RoundRobin => RGBColor(0x2c, 0xa0, 0x2c),
        Mechanism::DutchAuction => RGBColor(0xff, 0x7f, 0x0e),
        Mechanism::SealedFirstPrice => RGBColor(0x94, 0x67, 0xbd),
        Mechanism::SealedSecondPrice => RGBColor(0x8c, 0x56, 0x4b),
    }
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Draws one chart into `dir/name` with `draw`, returning the file's path.
fn svg(
    dir: &Path,
    name: &str,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<PathBuf> {
    let path = dir.join(name);
    {
        let root = SVGBackend::new(&path, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_error(&path, e))?;
        draw(&root).map_err(|e| plot_error(&path, e))?;
        root.present().map_err(|e| plot_error(&path, e))?;
    }
    Ok(path)
}

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// The plots of one or more runs: time-to-proof CDF, share served per hour, Lorenz curve of revenue.
pub fn runs(dir: &Path, reports: &[Report]) -> Result<Vec<PathBuf>> {
    Ok(vec![
        time_to_proof(dir, reports)?,
        hourly(dir, reports)?,
        lorenz(dir, reports)?,
    ])
}

/// The plots of a comparison: those of [`runs`] plus served share under withholding and cost against
/// latency.
pub fn comparison(dir: &Path, c: &Comparison) -> Result<Vec<PathBuf>> {
    let mut files = runs(dir, &c.reports)?;
    files.push(withholding(dir, c)?);
    files.push(cost_latency(dir, &c.reports)?);
    Ok(files)
}

fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .draw()
        .map_err(s)
}

/// Time to proof (log scale) against the share of proven asks proven by then.
pub fn time_to_proof(dir: &Path, reports: &[Report]) -> Result<PathBuf> {
    let max = reports
        .iter()
        .flat_map(|r| r.time_to_proof_curve.last().copied())
        .fold(10.0, f64::max);
    let min = reports
        .iter()
        .flat_map(|r| r.time_to_proof_curve.first().copied())
        .fold(max, f64::min)
        .max(0.1);
    svg(dir, "time-to-proof.svg", |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Time to proof (proven asks)", (FONT, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d((min * 0.9..max * 1.1).log_scale(), 0.0..1.0)
            .map_err(s)?;
        chart
            .configure_mesh()
            .x_desc("seconds from ask creation to accepted proof (log)")
            .y_desc("share of proven asks")
            .label_style((FONT, 12))
            .draw()
            .map_err(s)?;
        for r in reports {
            let n = r.time_to_proof_curve.len() as f64;
            let c = color(r.mechanism);
            chart
                .draw_series(LineSeries::new(
                    r.time_to_proof_curve
                        .iter()
                        .enumerate()
                        .map(|(i, &t)| (t.max(min), (i as f64 + 0.5) / n)),
                    c.stroke_width(2),
                ))
                .map_err(s)?
                .label(r.mechanism.name())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

/// Share of each hour's asks proven by their deadline.
pub fn hourly(dir: &Path, reports: &[Report]) -> Result<PathBuf> {
    let hours = reports
        .iter()
        .map(|r| r.hourly.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let lowest = reports
        .iter()
        .flat_map(|r| r.hourly.iter())
        .filter(|h| h.asks > 0)
        .map(|h| h.served as f64 / h.asks as f64)
        .fold(1.0, f64::min);
    let bottom = ((lowest - 0.02) * 50.0).floor() / 50.0;
    svg(dir, "served-per-hour.svg", |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Asks proven by their deadline, per hour of creation",
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..hours as f64, bottom.max(0.0)..1.0)
            .map_err(s)?;
        chart
            .configure_mesh()
            .x_desc("hour")
            .y_desc("share proven in time")
            .label_style((FONT, 12))
            .draw()
            .map_err(s)?;
        for r in reports {
            let c = color(r.mechanism);
            chart
                .draw_series(LineSeries::new(
                    r.hourly
                        .iter()
                        .filter(|h| h.asks > 0)
                        .map(|h| (f64::from(h.hour) + 0.5, h.served as f64 / h.asks as f64)),
                    c.stroke_width(2),
                ))
                .map_err(s)?
                .label(r.mechanism.name())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft)
    })
}

/// Lorenz curves of generator revenue.
pub fn lorenz(dir: &Path, reports: &[Report]) -> Result<PathBuf> {
    svg(dir, "earnings-lorenz.svg", |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Concentration of generator revenue (Lorenz curve)",
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)
            .map_err(s)?;
        chart
            .configure_mesh()
            .x_desc("share of generators, poorest first")
            .y_desc("share of revenue")
            .label_style((FONT, 12))
            .draw()
            .map_err(s)?;
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, 0.0), (1.0, 1.0)],
                BLACK.mix(0.4),
            ))
            .map_err(s)?;
        for r in reports {
            let c = color(r.mechanism);
            let label = format!("{} (Gini {:.2})", r.mechanism.name(), r.gini);
            chart
                .draw_series(LineSeries::new(
                    r.lorenz
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| (i as f64 / 100.0, v)),
                    c.stroke_width(2),
                ))
                .map_err(s)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })
}

/// Served share as the k largest generators withhold proofs.
pub fn withholding(dir: &Path, c: &Comparison) -> Result<PathBuf> {
    let kmax = c.withholding.iter().map(|p| p.k).max().unwrap_or(1).max(1) as f64;
    let lowest = c
        .withholding
        .iter()
        .map(|p| p.served_share)
        .fold(1.0, f64::min);
    let bottom = (((lowest - 0.02) * 20.0).floor() / 20.0).max(0.0);
    svg(dir, "withholding.svg", |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Asks proven in time when the k largest generators withhold",
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..kmax * 1.05, bottom..1.0)
            .map_err(s)?;
        chart
            .configure_mesh()
            .x_desc("k (largest generators by capacity x speed, colluding)")
            .y_desc("share proven in time")
            .label_style((FONT, 12))
            .draw()
            .map_err(s)?;
        for m in Mechanism::ALL {
            let pts: Vec<(f64, f64)> = c
                .withholding
                .iter()
                .filter(|p| p.mechanism == m)
                .map(|p| (p.k as f64, p.served_share))
                .collect();
            if pts.is_empty() {
                continue;
            }
            let col = color(m);
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), col.stroke_width(2)))
                .map_err(s)?
                .label(m.name())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(2))
                });
            chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, y)| Circle::new((x, y), 3, col.filled())),
                )
                .map_err(s)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft)
    })
}

/// Mean price per proof against p90 time to proof, one point per mechanism.
pub fn cost_latency(dir: &Path, reports: &[Report]) -> Result<PathBuf> {
    let xmax = reports
        .iter()
        .map(|r| r.time_to_proof.p90)
        .fold(1.0, f64::max)
        * 1.25;
    let ymax = reports
        .iter()
        .map(|r| r.cost_per_proof)
        .fold(1e-9, f64::max)
        * 1.25;
    svg(dir, "cost-vs-latency.svg", |root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Price per proof against p90 time to proof", (FONT, 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)
            .map_err(s)?;
        chart
            .configure_mesh()
            .x_desc("p90 time to proof (s)")
            .y_desc("mean price paid per proof (tokens)")
            .label_style((FONT, 12))
            .draw()
            .map_err(s)?;
        chart
            .draw_series(reports.iter().map(|r| {
                let c = color(r.mechanism);
                EmptyElement::at((r.time_to_proof.p90, r.cost_per_proof))
                    + Circle::new((0, 0), 5, c.filled())
                    + Text::new(
                        r.mechanism.name(),
                        (8, -6),
                        (FONT, 13).into_font().color(&c),
                    )
            }))
            .map_err(s)?;
        Ok(())
    })
}
