// Alert detail: evidence charts, DTCs and freeze frames, operation and parts, customer, and the actions
// acknowledge, dismiss with a reason, find slots → confirm a booking, check the car in.
import { flat, lineChart } from "./charts.js";
import {
  api, ApiError, badge, bindLanguageSwitch, boot, dateTime, flash, h, lang, query, ready, showError,
  startOfLocalDay, t, translate,
} from "./console.js";

const alertId = Number(document.body.dataset.alertId);
let alert;
let bookings = [];
let slots = null;
let chosen = null;

const $ = (id) => document.getElementById(id);
const round = (v, digits = 2) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));

function facts(pairs) {
  return pairs.flatMap(([label, value]) => [h("dt", {}, t(label)), h("dd", {}, value)]);
}

function renderHeader() {
  $("alert-title").replaceChildren(`${t(`mode.${alert.mode}`)} · `,
    h("a", { href: `/console/vehicles/${alert.vehicle_id}`, title: t("alert.vehicle_health") }, alert.vin),
    ` · ${alert.make} ${alert.model} ${alert.year}`);
  $("alert-state").replaceWith(Object.assign(badge("state", alert.state), { id: "alert-state" }));
  $("alert-facts").replaceChildren(...facts([
    ["alerts.severity", badge("severity", alert.severity)],
    ["alerts.days", alert.days_to_failure ?? "–"],
    ["alerts.confidence", `${Math.round(alert.confidence * 100)}%`],
    ["alert.first_observed", dateTime(alert.first_observed_at)],
    ["alerts.observed", dateTime(alert.observed_at)],
    ["alert.model", alert.model_version],
  ]));
}

function evidenceSeries(ev) {
  const points = ev.series || [];
  const x = points.map((p) => startOfLocalDay(p.day).getTime() / 1000);
  const adjusted = points.map((p) => p.adjusted);
  const shift = ev.cohort_shift || 0;
  const window = points.map((p, i) => i).filter((i) => (x[x.length - 1] - x[i]) / 86400 < 14);
  const meanX = window.reduce((s, i) => s + x[i], 0) / (window.length || 1);
  const meanY = window.reduce((s, i) => s + adjusted[i], 0) / (window.length || 1);
  const slope = ev.trend_z_per_day === null ? null : (ev.trend_z_per_day * ev.scale) / 86400;
  const trend = x.map((xi, i) => (slope === null || !window.includes(i) ? null : meanY + slope * (xi - meanX)));
  return { x, points, adjusted, shift, trend };
}

/** Whose baseline the car was compared with (evidence.baseline_from): its own, the fleet's or its cohort's. */
const BASELINE_LABEL = { own: "alert.baseline", fleet: "alert.baseline_fleet", cohort: "alert.baseline_cohort" };

function renderEvidence() {
  const ev = alert.evidence || {};
  const { x, points, adjusted, shift, trend } = evidenceSeries(ev);
  $("evidence-summary").textContent = `${t("alert.signal")}: ${ev.signal ?? "–"} (${ev.unit ?? ""}) · ` +
    `${t("alert.z")} ${round(ev.z)} / ${t("alert.threshold_z")} ${round(ev.threshold_z, 1)}`;
  if (!points.length) return;
  lineChart($("evidence-chart"), { x, yLabel: ev.unit, series: [
    { label: t("alert.index"), values: points.map((p) => p.index), colour: "#8c959f", width: 1, points: true },
    { label: t("alert.adjusted"), values: adjusted, colour: "#1f6feb", width: 2, points: true },
    { label: t(BASELINE_LABEL[ev.baseline_from] || "alert.baseline"), values: flat(x, ev.baseline), colour: "#1a7f37",
      dash: [6, 4] },
    { label: t("alert.cohort"), values: flat(x, ev.baseline + shift * ev.scale), colour: "#9a6700", dash: [2, 3] },
    { label: t("alert.threshold"), values: flat(x, ev.baseline + (ev.threshold_z + shift) * ev.scale), colour: "#d1242f",
      dash: [8, 4] },
    { label: t("alert.trend"), values: trend, colour: "#8250df", width: 2 },
    // raised past the textbook limit while halfway to the threshold against its own baseline
    ...(ev.textbook_limit == null ? [] : [
      { label: t("alert.textbook_limit"), values: flat(x, ev.textbook_limit), colour: "#57606a", dash: [1, 3] }]),
  ] });
  lineChart($("evidence-z-chart"), { x, height: 160, yLabel: "z", series: [
    { label: t("alert.z"), values: adjusted.map((v) => (v - ev.baseline) / ev.scale - shift), colour: "#1f6feb",
      points: true },
    { label: t("alert.threshold_z"), values: flat(x, ev.threshold_z), colour: "#d1242f", dash: [8, 4] },
  ] });
}

function freezeFrame(frame) {
  if (!frame) return null;
  return h("table", { class: "kv" }, h("caption", {}, t("alert.freeze_frame")),
    ...Object.entries(frame).map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, String(v)))));
}

function renderDtcs() {
  const ev = alert.evidence || {};
  const codes = [...(ev.dtc_stored || []).map((c) => `${c} (${t("alert.stored")})`),
    ...(ev.dtc_pending || []).map((c) => `${c} (${t("alert.pending")})`)];
  $("dtcs").replaceChildren(h("p", {}, codes.length ? codes.join(" · ") : t("common.none")),
    ...alert.recent_dtcs.map((d) => h("div", { class: "dtc" },
      h("strong", {}, dateTime(d.ts)), " ",
      d.mil ? h("span", { class: "badge severity-critical" }, t("alert.mil")) : "",
      ` ${[...d.stored, ...d.pending.map((c) => `${c}?`)].join(" ")}`, freezeFrame(d.freeze_frame))));
}

function renderOperation() {
  const op = alert.recommended_operation;
  if (!op) { $("operation").textContent = alert.operation; return; }
  $("operation").replaceChildren(
    h("p", {}, h("strong", {}, lang() === "zh" ? op.name_zh : op.name_en), ` (${op.op_code})`),
    h("dl", { class: "facts" }, ...facts([["alert.labour", `${op.labour_hours} h`]])),
    h("ul", {}, ...op.parts.map((p) => h("li", {}, `${p.part_no} × ${p.qty}`))));
}

function renderCustomer() {
  const c = alert.customer;
  if (!c) { $("customer").textContent = t("alert.no_customer"); return; }
  const yesNo = (v) => h("span", { class: v ? "ok" : "warn" }, t(v ? "common.yes" : "common.no"));
  $("customer").replaceChildren(h("p", {}, h("strong", {}, c.name)), h("dl", { class: "facts" }, ...facts([
    ["alert.phone", c.phone ?? "–"], ["alert.channel", c.preferred_channel],
    ["alert.consent_contact", yesNo(c.consent_proactive_contact)],
    ["alert.consent_telematics", yesNo(c.consent_telematics)],
  ])));
}

function renderHistory() {
  $("history").replaceChildren(...alert.transitions.map((tr) => h("li", {},
    `${dateTime(tr.at)} · `, badge("state", tr.to_state), ` · ${tr.actor}${tr.note ? ` · ${tr.note}` : ""}`)));
}

function slotLabel(slot) {
  return `${dateTime(slot.starts_at)}–${dateTime(slot.ends_at).slice(-5)} · ${slot.technician_name} · ${slot.bay_name}`;
}

function renderSlots() {
  const box = $("slots");
  if (slots === null) { box.replaceChildren(); return; }
  if (!slots.length) { box.replaceChildren(h("p", {}, t("alert.no_slots"))); return; }
  box.replaceChildren(h("ul", { class: "slots" }, ...slots.map((slot, i) => h("li", {},
    h("label", {}, h("input", { type: "radio", name: "slot", value: i, checked: chosen === slot,
      onchange: () => { chosen = slot; renderSlots(); } }), ` ${slotLabel(slot)}`)))),
  h("button", { type: "button", id: "confirm-booking", disabled: !chosen, onclick: book }, t("alert.confirm_booking")));
}

function button(id, key, onclick, kind = "") {
  return h("button", { type: "button", id, class: kind, onclick }, t(key));
}

function renderActions() {
  const live = ["open", "acknowledged"].includes(alert.state);
  const confirmed = bookings.find((b) => ["confirmed", "in_service"].includes(b.state));
  const proposed = bookings.find((b) => b.state === "proposed");
  $("actions").replaceChildren(
    alert.state === "watch" ? button("to-queue", "alert.to_queue", toQueue) : "",
    alert.state === "open" ? button("acknowledge", "alert.acknowledge", acknowledge) : "",
    live ? button("dismiss", "alert.dismiss", () => { $("dismiss-form").hidden = false; }, "secondary") : "",
    live ? button("find-slots", "alert.find_slots", findSlots) : "",
    live && proposed ? h("div", { class: "booking" }, `${t("alert.proposal")}: ${dateTime(proposed.starts_at)} `,
      button("confirm-proposal", "alert.confirm_proposal", () => confirmProposal(proposed))) : "",
    confirmed ? h("div", { class: "booking" }, `${t("alert.booked_at")}: ${dateTime(confirmed.starts_at)} `,
      confirmed.state === "confirmed" ? button("check-in", "alert.check_in", () => checkIn(confirmed))
        : h("a", { href: "/console/work-orders" }, t("alert.open_work_order"))) : "");
  if (!live) $("dismiss-form").hidden = true;
}

function renderAll() {
  renderHeader();
  renderEvidence();
  renderDtcs();
  renderOperation();
  renderCustomer();
  renderHistory();
  renderActions();
  renderSlots();
}

async function load() {
  alert = await api(`/alerts/${alertId}`);
  const page = await api(`/bookings${query({ vehicle_id: alert.vehicle_id, limit: 50 })}`);
  bookings = page.items.filter((b) => b.alert_id === alertId);
  $("alert").hidden = false;
  renderAll();
}

async function act(work) {
  try {
    await work();
    await load();
  } catch (error) {
    showError(error);
  }
}

const acknowledge = () => act(() => api(`/alerts/${alertId}/acknowledge`, { method: "POST", json: {} }));
const toQueue = () => act(() => api(`/alerts/${alertId}/queue`, { method: "POST", json: {} }));

async function findSlots() {
  try {
    slots = (await api(`/alerts/${alertId}/slots${query({ count: 6 })}`)).slots;
    chosen = null;
    renderSlots();
  } catch (error) {
    showError(error);
  }
}

async function book() {
  const body = { vehicle_id: alert.vehicle_id, op_code: alert.operation, alert_id: alertId,
    technician_id: chosen.technician_id, bay_id: chosen.bay_id, starts_at: chosen.starts_at };
  try {
    await api("/bookings", { method: "POST", json: body });
    slots = null;
    chosen = null;
    await load();
  } catch (error) {
    if (error instanceof ApiError && error.code === "slot_taken") {
      flash(t("alert.slot_taken"), "error");
      slots = error.details.proposals || [];
      chosen = null;
      renderSlots();
    } else {
      showError(error);
    }
  }
}

const confirmProposal = (booking) => act(() => api(`/bookings/${booking.id}/confirm`, { method: "POST" }));

async function checkIn(booking) {
  try {
    const order = await api(`/bookings/${booking.id}/work-order`, { method: "POST" });
    location.assign(`/console/work-orders?open=${order.id}`);
  } catch (error) {
    showError(error);
  }
}

async function main() {
  await boot();
  $("dismiss-confirm").addEventListener("click", () => {
    const reason = $("dismiss-reason").value.trim();
    if (reason) act(() => api(`/alerts/${alertId}/dismiss`, { method: "POST", json: { reason } }));
  });
  bindLanguageSwitch(() => alert && renderAll());
  try {
    await load();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    $("not-found").textContent = `404 · ${t("common.not_found")} · ${error.message}`;
    $("not-found").hidden = false;
    ready();
    return;
  }
  ready();
  follow();
}

/** Reload when this alert changes elsewhere (another advisor, prediction, the work order's outcome). */
function follow() {
  const source = new EventSource("/api/v1/events/alerts", { withCredentials: true });
  const changed = (event) => {
    if (JSON.parse(event.data).alert_id === alertId) load().catch(showError);
  };
  for (const type of ["alert.acknowledged", "alert.dismissed", "alert.booked", "alert.resolved", "alert.raised"]) {
    source.addEventListener(type, changed);
  }
}

main().catch(showError);
translate();
