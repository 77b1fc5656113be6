// Bookings calendar: the store's technicians and bays by day or week (store time zone), with their
// shifts and the proposed, confirmed and in-service bookings; a booking opens its actions.
import {
  addDays, api, bindLanguageSwitch, boot, clock, dateTime, dayLabel, h, lang, localDate, query, ready, showError,
  startOfLocalDay, t, translate, tz,
} from "./console.js";

const $ = (id) => document.getElementById(id);
let context;
let mode = new URLSearchParams(location.search).get("view") === "day" ? "day" : "week";
let anchor = new URLSearchParams(location.search).get("date");
let calendar = null;
let selected = null;

function period() {
  if (mode === "day") return [anchor];
  const weekday = (new Date(`${anchor}T12:00:00Z`).getUTCDay() + 6) % 7; // Monday = 0
  return Array.from({ length: 7 }, (_, i) => addDays(anchor, i - weekday));
}

function localMinutes(iso) {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone: tz(), hourCycle: "h23", hour: "numeric",
    minute: "numeric" }).formatToParts(new Date(iso));
  const v = Object.fromEntries(parts.map((p) => [p.type, Number(p.value)]));
  return v.hour * 60 + v.minute;
}

/** The day window shown (minutes since local midnight): the widest opening hours, else 08:00-18:00. */
function dayWindow() {
  const hours = calendar.opening_hours;
  if (!hours.length) return [480, 1080];
  const starts = hours.map((i) => localMinutes(i.starts_at));
  const ends = hours.map((i) => localMinutes(i.ends_at) || 1440);
  return [Math.min(...starts), Math.max(...ends)];
}

/** Left and width (%) of an interval inside a lane of the period's days. */
function place(days, window, startsAt, endsAt) {
  const day = days.indexOf(localDate(new Date(startsAt)));
  if (day < 0) return null;
  const span = window[1] - window[0];
  const clamp = (m) => Math.min(Math.max(m - window[0], 0), span) / span;
  const from = clamp(localMinutes(startsAt));
  const to = localDate(new Date(endsAt)) === days[day] ? clamp(localMinutes(endsAt)) : 1;
  return { left: ((day + from) / days.length) * 100, width: (Math.max(to - from, 0.01) / days.length) * 100 };
}

function block(days, window, booking) {
  const at = place(days, window, booking.starts_at, booking.ends_at);
  if (!at) return null;
  const name = (lang() === "zh" ? booking.op_name_zh : booking.op_name_en) || booking.op_code;
  return h("div", { class: `booking-block ${booking.state}`, style: `left:${at.left}%;width:${at.width}%`,
    title: `${clock(booking.starts_at)}–${clock(booking.ends_at)} ${booking.vin} ${name}`,
    dataset: { bookingId: booking.id, state: booking.state }, onclick: () => openBooking(booking) },
  `${clock(booking.starts_at)} ${booking.vin.slice(-6)} ${name}`);
}

function lane(days, window, bookings, shifts = []) {
  const lines = `background-size:${100 / days.length}% 100%`;
  return h("div", { class: "cal-lane", style: lines },
    ...shifts.map((s) => place(days, window, s.starts_at, s.ends_at)).filter(Boolean).map((at) =>
      h("div", { class: "shift", style: `position:absolute;top:0;bottom:0;left:${at.left}%;width:${at.width}%;` +
        "background:rgba(26,127,55,0.07)" })),
    ...bookings.map((b) => block(days, window, b)).filter(Boolean));
}

function render() {
  const days = period();
  const window = dayWindow();
  const shown = calendar.bookings.filter((b) => ["proposed", "confirmed", "in_service", "completed"].includes(b.state));
  const head = days.map((d) => h("div", { style: "flex:1" }, dayLabel(startOfLocalDay(d))));
  if (mode === "day") {
    head.length = 0;
    for (let m = Math.ceil(window[0] / 60) * 60; m < window[1]; m += 60) {
      head.push(h("div", { style: `position:absolute;left:${((m - window[0]) / (window[1] - window[0])) * 100}%` },
        `${String(m / 60).padStart(2, "0")}:00`));
    }
  }
  $("period").textContent = days.length === 1 ? dayLabel(startOfLocalDay(days[0]))
    : `${days[0]} – ${days[days.length - 1]}`;
  $("view-day").classList.toggle("on", mode === "day");
  $("view-week").classList.toggle("on", mode === "week");
  $("calendar").replaceChildren(h("div", { class: "cal-grid", style: "grid-template-columns: 150px 1fr" },
    h("div", { class: "cal-head" }),
    h("div", { class: "cal-head", style: "display:flex;position:relative;min-height:1.6rem" }, ...head),
    h("div", { class: "cal-section" }, t("calendar.technicians")),
    ...calendar.technicians.filter((x) => x.active).flatMap((tech) => [
      h("div", { class: "cal-row-label" }, tech.name, h("div", { class: "hint" }, tech.skills.join(", "))),
      lane(days, window, shown.filter((b) => b.technician_id === tech.id), tech.shifts)]),
    h("div", { class: "cal-section" }, t("calendar.bays")),
    ...calendar.bays.filter((x) => x.active).flatMap((bay) => [
      h("div", { class: "cal-row-label" }, bay.name),
      lane(days, window, shown.filter((b) => b.bay_id === bay.id))])));
  renderPanel();
}

async function load() {
  const days = period();
  const from = startOfLocalDay(days[0]).toISOString();
  const to = startOfLocalDay(addDays(days[days.length - 1], 1)).toISOString();
  calendar = await api(`/calendar${query({ store_id: context.store.id, from, to })}`);
  history.replaceState(null, "", `/console/calendar${query({ view: mode, date: anchor })}`);
  render();
}

function renderPanel() {
  const b = selected;
  const panel = $("booking-panel");
  panel.hidden = !b;
  if (!b) return;
  const act = (key, id, work) => h("button", { type: "button", id, onclick: () => work().catch(showError) }, t(key));
  const reason = h("input", { id: "cancel-reason", placeholder: t("calendar.cancel_reason") });
  panel.replaceChildren(
    h("div", { class: "row" }, h("h2", {}, `#${b.id} · ${t(`booking.${b.state}`)}`),
      h("button", { type: "button", class: "link", onclick: () => { selected = null; renderPanel(); } },
        t("common.close"))),
    h("p", {}, `${dateTime(b.starts_at)} – ${clock(b.ends_at)}`),
    h("p", {}, h("a", { href: `/console/vehicles/${b.vehicle_id}` }, b.vin), ` · ${(lang() === "zh" ? b.op_name_zh
      : b.op_name_en) || b.op_code}`),
    b.alert_id ? h("p", {}, h("a", { href: `/console/alerts/${b.alert_id}` }, `${t("wo.from_alert")} #${b.alert_id}`))
      : "",
    b.work_order_id ? h("p", {}, h("a", { href: `/console/work-orders?open=${b.work_order_id}` },
      `${t("alert.open_work_order")} #${b.work_order_id}`)) : "",
    h("div", { class: "actions" },
      b.state === "proposed" ? act("calendar.confirm", "booking-confirm", async () => {
        await api(`/bookings/${b.id}/confirm`, { method: "POST" });
        selected = null;
        await load();
      }) : "",
      b.state === "confirmed" && !b.work_order_id ? act("calendar.check_in", "booking-check-in", async () => {
        const order = await api(`/bookings/${b.id}/work-order`, { method: "POST" });
        location.assign(`/console/work-orders?open=${order.id}`);
      }) : ""),
    ["proposed", "confirmed"].includes(b.state) ? h("div", { class: "row" }, reason,
      act("calendar.cancel", "booking-cancel", async () => {
        await api(`/bookings/${b.id}/cancel`, { method: "POST", json: { reason: reason.value || "cancelled" } });
        selected = null;
        await load();
      })) : "");
}

function openBooking(booking) {
  selected = booking;
  renderPanel();
}

function shift(direction) {
  anchor = addDays(anchor, direction * (mode === "day" ? 1 : 7));
  load().catch(showError);
}

async function main() {
  context = await boot();
  anchor = anchor || localDate(new Date());
  $("view-day").addEventListener("click", () => { mode = "day"; load().catch(showError); });
  $("view-week").addEventListener("click", () => { mode = "week"; load().catch(showError); });
  $("prev").addEventListener("click", () => shift(-1));
  $("next").addEventListener("click", () => shift(1));
  $("today").addEventListener("click", () => { anchor = localDate(new Date()); load().catch(showError); });
  bindLanguageSwitch(() => calendar && render());
  await load();
  ready();
}

main().catch(showError);
translate();
