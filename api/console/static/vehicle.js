// Vehicle health: one PID over a chosen range (hourly rollups; 1-minute raw buckets when zoomed into
// 7 days or less), device status and buffer depth, DTC history, the vehicle's alerts and work orders.
import { lineChart } from "./charts.js";
import {
  api, ApiError, badge, bindLanguageSwitch, boot, dateTime, h, query, ready, showError, t, translate,
} from "./console.js";

const vehicleId = Number(document.body.dataset.vehicleId);
const COMMON_PIDS = ["COOLANT_TEMP", "ELM_VOLTAGE", "CONTROL_MODULE_VOLTAGE", "RPM", "SPEED", "ENGINE_LOAD",
  "SHORT_FUEL_TRIM_1", "LONG_FUEL_TRIM_1", "INTAKE_TEMP", "CATALYST_TEMP_B1S1"];
const RANGES = { "1d": 1, "7d": 7, "30d": 30, "90d": 90 };
const RAW_LIMIT_S = 7 * 86400;
const BUCKET_S = { "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400, "1w": 604800 };
const $ = (id) => document.getElementById(id);
let vehicle;
let view = null; // {from, to} in epoch seconds when zoomed
let lastSeries = null;
let lists = { alerts: [], orders: [], dtcs: [], device: null };

/** The bucket for a range: 1-minute raw data for 7 days or less, else the hourly rollup. */
export function bucketFor(seconds) {
  return seconds <= RAW_LIMIT_S ? "1m" : "1h";
}

function rangeSeconds() {
  const to = Date.now() / 1000;
  return view || { from: to - RANGES[$("range").value] * 86400, to };
}

async function loadSeries() {
  const { from, to } = rangeSeconds();
  const bucket = bucketFor(to - from);
  const iso = (s) => new Date(s * 1000).toISOString();
  const started = performance.now();
  lastSeries = await api(`/vehicles/${vehicleId}/series${query({ pid: $("pid").value, from: iso(from), to: iso(to), bucket })}`);
  drawSeries(started);
}

/** Columns for uPlot with a null after each missing stretch, so the lines break where the car was off. */
function withGaps(points, bucketSeconds) {
  const out = { x: [], min: [], avg: [], max: [] };
  let previous = null;
  for (const p of points) {
    const at = new Date(p.start).getTime() / 1000;
    if (previous !== null && at - previous > 1.5 * bucketSeconds) {
      out.x.push(previous + bucketSeconds);
      out.min.push(null); out.avg.push(null); out.max.push(null);
    }
    out.x.push(at); out.min.push(p.min); out.avg.push(p.avg); out.max.push(p.max);
    previous = at;
  }
  return out;
}

function drawSeries(started = performance.now()) {
  const s = lastSeries;
  const { x, min, avg, max } = withGaps(s.points, BUCKET_S[s.bucket]);
  const drawStart = performance.now();
  const dots = s.points.length < 500; // sparse buckets (a car driven an hour a day) stay visible as dots
  lineChart($("series-chart"), { x, height: 320, yLabel: s.pid, onZoom: zoom, series: [
    { label: "min", values: min, colour: "#8c959f", width: 1, points: dots },
    { label: "avg", values: avg, colour: "#1f6feb", width: 1.5, points: dots },
    { label: "max", values: max, colour: "#d1242f", width: 1, points: dots },
  ] });
  const drawn = performance.now();
  $("series-chart").dataset.points = String(s.points.length);
  $("series-chart").dataset.bucket = s.bucket;
  $("series-info").textContent = s.points.length
    ? `${s.points.length} ${t("vehicle.points")} · ${t("vehicle.bucket")} ${s.bucket} (${s.source}) · ` +
      `${dateTime(s.from)} – ${dateTime(s.to)} · ${Math.round(drawn - drawStart)} ms`
    : t("vehicle.no_data");
  performance.measure("console:series", { start: started, end: drawn });
}

function zoom(from, to) {
  view = { from, to };
  loadSeries().catch(showError);
}

function renderDevice() {
  const d = lists.device;
  if (!d) { $("device").replaceChildren(h("dd", {}, t("vehicle.no_device"))); return; }
  const pairs = [["vehicle.device", `${d.device_id} · ${t(d.online ? "vehicle.online" : "vehicle.offline")}`],
    ["vehicle.buffer", d.buffer_depth ?? "–"], ["vehicle.last_seen", dateTime(d.last_seen_at)],
    ["vehicle.agent", d.agent_version ?? "–"], ["vehicle.protocol", d.protocol ?? "–"]];
  $("device").replaceChildren(...pairs.flatMap(([k, v]) => [h("dt", {}, t(k)), h("dd", {}, v)]));
}

function renderLists() {
  $("vehicle-title").textContent = `${vehicle.vin} · ${vehicle.make} ${vehicle.model} ${vehicle.year}`;
  renderDevice();
  $("vehicle-alerts").replaceChildren(...(lists.alerts.length ? lists.alerts.map((a) => h("div", {},
    h("a", { href: `/console/alerts/${a.id}` }, t(`mode.${a.mode}`)), " ", badge("state", a.state), " ",
    dateTime(a.observed_at))) : [t("common.none")]));
  $("vehicle-work-orders").replaceChildren(...(lists.orders.length ? lists.orders.map((w) => h("div", {},
    h("a", { href: `/console/work-orders?open=${w.id}` }, `#${w.id} ${w.op_code ?? ""}`), ` ${t(`wo.${w.state}`)} `,
    dateTime(w.created_at))) : [t("common.none")]));
  $("vehicle-dtcs").replaceChildren(h("table", { class: "list" },
    h("tr", {}, h("th", {}, t("common.time")), h("th", {}, t("alert.mil")), h("th", {}, t("alert.stored")),
      h("th", {}, t("alert.pending")), h("th", {}, t("alert.freeze_frame"))),
    ...lists.dtcs.map((d) => h("tr", {}, h("td", {}, dateTime(d.ts)), h("td", {}, d.mil ? "●" : ""),
      h("td", {}, d.stored.join(" ")), h("td", {}, d.pending.join(" ")),
      h("td", {}, d.freeze_frame ? JSON.stringify(d.freeze_frame) : "")))));
}

async function loadDevice() {
  try {
    return await api(`/vehicles/${vehicleId}/device`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

async function load() {
  $("pid").replaceChildren(h("option", { value: pidWanted() }, pidWanted()));
  $("vehicle").hidden = false;
  const series = loadSeries();
  series.catch(() => null); // a missing vehicle is reported once, by the calls below
  const [found, latest, alerts, orders, dtcs, device] = await Promise.all([
    api(`/vehicles/${vehicleId}`),
    api(`/vehicles/${vehicleId}/latest${query({ lookback_hours: 720 })}`).catch(() => ({ readings: [] })),
    api(`/alerts${query({ vehicle_id: vehicleId, state: ["open", "acknowledged", "booked", "resolved", "dismissed"] })}`),
    api(`/work-orders${query({ vehicle_id: vehicleId, limit: 20 })}`),
    api(`/vehicles/${vehicleId}/dtcs${query({ limit: 20 })}`),
    loadDevice(),
  ]);
  vehicle = found;
  lists = { alerts: alerts.items, orders: orders.items, dtcs: dtcs.items, device };
  const pids = [...new Set([...COMMON_PIDS, ...latest.readings.map((r) => r.pid)])].sort();
  $("pid").replaceChildren(...pids.map((p) => h("option", { value: p }, p)));
  $("pid").value = pidWanted();
  renderLists();
  await series;
}

function pidWanted() {
  return new URLSearchParams(location.search).get("pid") || "COOLANT_TEMP";
}

function fillRanges() {
  const current = $("range").value || "30d";
  $("range").replaceChildren(...Object.keys(RANGES).map((r) => h("option", { value: r }, t(`range.${r}`))));
  $("range").value = current;
}

async function main() {
  await boot();
  fillRanges();
  const reset = () => { view = null; loadSeries().catch(showError); };
  $("pid").addEventListener("change", () => loadSeries().catch(showError));
  $("range").addEventListener("change", reset);
  $("reset-zoom").addEventListener("click", reset);
  bindLanguageSwitch(() => { fillRanges(); if (vehicle) renderLists(); if (lastSeries) drawSeries(); });
  try {
    await load();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    $("vehicle").hidden = true;
    $("not-found").textContent = `404 · ${t("common.not_found")}`;
    $("not-found").hidden = false;
  }
  ready();
}

main().catch(showError);
translate();
