// Work order board: columns by state; a card opens a panel to record findings, labour, parts and the
// alert outcome and to move the order along the transitions the API allows.
import {
  api, ApiError, bindLanguageSwitch, boot, dateTime, flash, h, lang, query, ready, showError, t, translate,
} from "./console.js";

const COLUMNS = ["check_in", "diagnosis", "repair", "quality_check", "settlement", "closed"];
const $ = (id) => document.getElementById(id);
let orders = [];
let openOrder = null;

function card(order) {
  const final = ["closed", "cancelled"].includes(order.state);
  return h("div", { class: "wo-card", dataset: { workOrderId: order.id, state: order.state }, draggable: final ? "false" : "true",
    onclick: () => openPanel(order.id),
    ondragstart: (event) => event.dataTransfer.setData("text/plain", String(order.id)) },
  h("div", { class: "vin" }, `#${order.id} · ${order.vin}`),
  h("div", {}, order.op_code ?? order.complaint),
  order.alert_id ? h("div", { class: "hint" }, `${t("wo.from_alert")} #${order.alert_id}`) : "",
  h("div", { class: "hint" }, dateTime(order.updated_at)));
}

function renderBoard() {
  $("board").replaceChildren(...COLUMNS.map((state) => {
    const cards = orders.filter((o) => o.state === state);
    return h("section", { class: "column", dataset: { column: state },
      ondragover: (event) => event.preventDefault(),
      ondrop: (event) => { event.preventDefault(); drop(Number(event.dataTransfer.getData("text/plain")), state); } },
      h("h2", {}, h("span", {}, t(`wo.${state}`)), h("span", { class: "hint" }, cards.length)),
      ...(cards.length ? cards.map(card) : [h("p", { class: "hint" }, t("wo.empty"))]));
  }));
}

async function loadBoard() {
  const [active, closed] = await Promise.all([
    api(`/work-orders${query({ state: COLUMNS.slice(0, 5), limit: 200 })}`),
    api(`/work-orders${query({ state: ["closed"], limit: 20 })}`),
  ]);
  orders = active.items.concat(closed.items);
  renderBoard();
}

function field(key, input) {
  return h("label", {}, h("span", {}, t(key)), input);
}

function panelBody(o) {
  const final = ["closed", "cancelled"].includes(o.state);
  const outcome = h("select", { id: "wo-outcome", disabled: final },
    h("option", { value: "" }, "–"),
    ...["confirmed", "not_found"].map((v) => h("option", { value: v, selected: o.alert_outcome === v },
      t(`wo.outcome.${v}`))));
  const note = h("input", { id: "wo-note", placeholder: t("wo.note") });
  return [
    h("div", { class: "row" }, h("h2", {}, `#${o.id} · ${t(`wo.${o.state}`)}`),
      h("button", { type: "button", class: "link", onclick: closePanel }, t("common.close"))),
    h("p", {}, h("a", { href: `/console/vehicles/${o.vehicle_id}` }, o.vin), ` · ${o.make} ${o.model} ${o.year}`),
    h("p", {}, (lang() === "zh" ? o.operation_name_zh : o.operation_name_en) ?? o.op_code ?? "", " ",
      o.alert_id ? h("a", { href: `/console/alerts/${o.alert_id}` }, `${t("wo.from_alert")} #${o.alert_id}`) : ""),
    o.complaint ? h("p", { class: "hint" }, `${t("wo.complaint")}: ${o.complaint}`) : "",
    h("div", { class: "actions", id: "wo-moves" }, ...o.allowed_transitions.map((to) => h("button",
      { type: "button", class: to === "cancelled" ? "secondary" : "", dataset: { to }, onclick: () => move(o, to) },
      `${t("wo.move_to")} ${t(`wo.${to}`)}`))),
    o.allowed_transitions.length ? note : "",
    field("wo.findings", h("textarea", { id: "wo-findings", disabled: final }, o.findings)),
    h("div", { class: "row" },
      field("wo.labour_hours", h("input", { id: "wo-labour", type: "number", step: "0.1", min: "0",
        value: o.labour_hours ?? "", disabled: final })),
      field("wo.amount", h("input", { id: "wo-amount", type: "number", step: "0.01", min: "0",
        value: o.amount_cny ?? "", disabled: final }))),
    o.alert_id ? field("wo.outcome", outcome) : "",
    final ? "" : h("button", { type: "button", id: "wo-save", onclick: () => save(o) }, t("common.save")),
    h("h3", {}, t("wo.planned_parts")),
    h("ul", {}, ...o.planned_parts.map((p) => h("li", {}, `${p.part_no} × ${p.qty} · ${p.state}`))),
    h("h3", {}, t("wo.parts")),
    h("ul", {}, ...o.parts.map((p) => h("li", {}, `${p.part_no} × ${p.qty}`))),
    final ? "" : h("div", { class: "row" },
      field("wo.part_no", h("input", { id: "wo-part-no", size: 12 })),
      field("wo.qty", h("input", { id: "wo-part-qty", type: "number", min: "1", value: "1", size: 3 })),
      h("button", { type: "button", class: "secondary", onclick: () => addPart(o) }, t("wo.add_part"))),
    o.survey ? h("p", {}, `${t("wo.survey")}: ${o.survey.score ?? "–"} ${o.survey.comment ?? ""}`) : "",
    h("ol", { class: "history" }, ...o.transitions.map((tr) => h("li", {},
      `${dateTime(tr.at)} · ${t(`wo.${tr.to_state}`)} · ${tr.actor}${tr.note ? ` · ${tr.note}` : ""}`))),
  ];
}

function renderPanel() {
  $("wo-panel").replaceChildren(...panelBody(openOrder));
  $("wo-panel").hidden = false;
}

async function openPanel(id) {
  try {
    openOrder = await api(`/work-orders/${id}`);
    renderPanel();
    history.replaceState(null, "", `/console/work-orders?open=${id}`);
  } catch (error) {
    showError(error);
  }
}

function closePanel() {
  openOrder = null;
  $("wo-panel").hidden = true;
  history.replaceState(null, "", "/console/work-orders");
}

function facts() {
  const number = (id) => ($(id).value === "" ? null : Number($(id).value));
  const body = { findings: $("wo-findings").value, labour_hours: number("wo-labour"), amount_cny: number("wo-amount") };
  if ($("wo-outcome")?.value) body.alert_outcome = $("wo-outcome").value;
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null));
}

async function refresh(id) {
  await Promise.all([loadBoard(), openPanel(id)]);
}

async function save(o) {
  try {
    await api(`/work-orders/${o.id}`, { method: "PATCH", json: facts() });
    flash(t("common.saved"));
    await refresh(o.id);
  } catch (error) {
    showError(error);
  }
}

async function move(o, to) {
  try {
    const unsaved = facts();
    const changed = Object.entries(unsaved).some(([k, v]) => (o[k] ?? (k === "findings" ? "" : null)) !== v);
    if (changed) await api(`/work-orders/${o.id}`, { method: "PATCH", json: unsaved });
    const moved = await api(`/work-orders/${o.id}/transitions`, { method: "POST",
      json: { to, note: $("wo-note")?.value || null } });
    if (moved.survey_link) flash(moved.survey_link);
    await refresh(o.id);
  } catch (error) {
    explain(error);
  }
}

/** Move a dragged card: the API decides (409 with the allowed moves, 422 with the missing facts). */
async function drop(id, to) {
  const order = orders.find((o) => o.id === id);
  if (!order || order.state === to) return;
  try {
    await api(`/work-orders/${id}/transitions`, { method: "POST", json: { to } });
    await loadBoard();
    if (openOrder?.id === id) await openPanel(id);
  } catch (error) {
    if (error instanceof ApiError && error.details.allowed) {
      flash(`${t(`wo.${order.state}`)} → ${t(`wo.${to}`)}: ${t("wo.allowed")} ` +
        `${error.details.allowed.map((s) => t(`wo.${s}`)).join(", ") || t("common.none")}`, "error");
    } else {
      explain(error);
    }
  }
}

function explain(error) {
  if (error instanceof ApiError && error.details.missing) {
    flash(`${error.message}: ${error.details.missing.map((m) => t(m === "alert_outcome" ? "wo.outcome" : `wo.${m}`))
      .join(", ")}`, "error");
  } else {
    showError(error);
  }
}

async function addPart(o) {
  try {
    await api(`/work-orders/${o.id}/parts`, { method: "POST",
      json: { part_no: $("wo-part-no").value.trim(), qty: Number($("wo-part-qty").value) } });
    await refresh(o.id);
  } catch (error) {
    showError(error);
  }
}

async function main() {
  await boot();
  bindLanguageSwitch(() => { renderBoard(); if (openOrder) renderPanel(); });
  await loadBoard();
  const open = Number(new URLSearchParams(location.search).get("open"));
  if (open) await openPanel(open);
  ready();
}

main().catch(showError);
translate();
