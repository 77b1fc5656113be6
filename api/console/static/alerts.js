// Alert queue: the store's alerts most urgent first (the API's order), filters, live updates over SSE.
import {
  api, badge, bindLanguageSwitch, boot, dateTime, flash, h, query, ready, showError, t, translate,
} from "./console.js";

const MODES = ["battery", "charging_system", "thermostat", "overheating", "fuel_lean", "misfire", "catalyst"];
const STATES = ["open", "acknowledged", "booked", "resolved", "dismissed", "watch"];
const body = document.querySelector("#queue tbody");
const more = document.getElementById("more");
const live = document.getElementById("live");
const modeSelect = document.getElementById("filter-mode");
const stateSelect = document.getElementById("filter-state");
let context;
let cursor = null;
let shown = [];

function fillFilters() {
  const params = new URLSearchParams(location.search);
  modeSelect.replaceChildren(h("option", { value: "" }, t("common.all")),
    ...MODES.map((m) => h("option", { value: m }, t(`mode.${m}`))));
  stateSelect.replaceChildren(h("option", { value: "" }, t("alerts.live_states")),
    ...STATES.map((s) => h("option", { value: s }, t(`state.${s}`))));
  modeSelect.value = params.get("mode") || "";
  stateSelect.value = params.get("state") || "";
}

function row(alert) {
  const open = () => location.assign(`/console/alerts/${alert.id}`);
  return h("tr", { class: `clickable sev-${alert.severity}`, dataset: { alertId: alert.id }, onclick: open },
    h("td", {}, badge("severity", alert.severity)),
    h("td", {}, h("a", { href: `/console/alerts/${alert.id}` }, alert.vin)),
    h("td", {}, t(`mode.${alert.mode}`)),
    h("td", { class: "num" }, alert.days_to_failure ?? "–"),
    h("td", { class: "num" }, `${Math.round(alert.confidence * 100)}%`),
    h("td", {}, badge("state", alert.state)),
    h("td", {}, dateTime(alert.observed_at)));
}

async function showHolds() {
  // a mode held back for poor live precision: its new alerts are on the watch list, not in this queue
  const status = await api(`/prediction/status${query({ store_id: context.store.id })}`);
  const held = status.modes.filter((m) => m.held);
  const notice = document.getElementById("held");
  notice.hidden = held.length === 0;
  notice.replaceChildren(...held.map((m) => h("div", { dataset: { heldMode: m.mode } },
    `${t(`mode.${m.mode}`)}: ${t("alerts.held")} (${t("alerts.precision")} ${Math.round(m.live_precision.precision * 100)}%`
    + `, ${m.live_precision.confirmed}/${m.live_precision.confirmed + m.live_precision.refuted}; `
    + `${t("alerts.watch_list")} ${m.watch_list})`)));
}

function render() {
  body.replaceChildren(...shown.map(row));
  document.getElementById("queue-empty").hidden = shown.length > 0;
  more.hidden = !cursor;
}

async function load({ append = false } = {}) {
  const filters = { mode: modeSelect.value, state: stateSelect.value, store_id: context.store.id, limit: 50 };
  const page = await api(`/alerts${query({ ...filters, cursor: append ? cursor : null })}`);
  shown = append ? shown.concat(page.items) : page.items;
  cursor = page.next_cursor;
  render();
}

function onFilter() {
  const params = query({ mode: modeSelect.value, state: stateSelect.value });
  history.replaceState(null, "", `/console/alerts${params}`);
  load().catch(showError);
}

function listen() {
  const source = new EventSource("/api/v1/events/alerts", { withCredentials: true });
  let pending = null;
  const refresh = (event) => {
    live.dataset.lastEvent = event.type;
    if (event.type === "alert.raised") flash(t("alerts.new"));
    clearTimeout(pending);
    pending = setTimeout(() => load().catch(showError), 200);
  };
  const status = (state, key) => {
    live.className = `live ${state}`;
    live.dataset.i18n = key;
    live.textContent = t(key);
  };
  source.addEventListener("ready", () => status("on", "alerts.live"));
  for (const type of ["alert.raised", "alert.acknowledged", "alert.dismissed", "alert.booked", "alert.resolved"]) {
    source.addEventListener(type, refresh);
  }
  source.onerror = () => status("off", "alerts.offline");
}

async function main() {
  context = await boot();
  fillFilters();
  modeSelect.addEventListener("change", onFilter);
  stateSelect.addEventListener("change", onFilter);
  more.addEventListener("click", () => load({ append: true }).catch(showError));
  bindLanguageSwitch(() => { fillFilters(); render(); showHolds().catch(showError); });
  await Promise.all([load(), showHolds()]);
  ready();
  listen();
}

main().catch(showError);
translate();
