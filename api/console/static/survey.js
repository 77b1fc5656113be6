// The customer's survey page (public, no log-in): questions from /api/v1/surveys/{token}, answered once.
const form = document.getElementById("survey");
const message = document.getElementById("survey-message");
const token = form.dataset.token;
const path = `/api/v1/surveys/${encodeURIComponent(token)}`;
const WORDS = {
  zh: { submit: "提交", thanks: "感谢您的评价！", done: "您已完成本次调查，谢谢！", missing: "该调查链接无效或已过期。", pick: "请选择分数" },
  en: { submit: "Send", thanks: "Thank you for your answer!", done: "You have already answered this survey. Thank you!", missing: "This survey link is not valid.", pick: "Please pick a score" },
};
let words = WORDS.zh;

function show(text) {
  form.hidden = true;
  message.textContent = text;
  message.hidden = false;
  document.body.dataset.ready = "1";
}

function scale(question) {
  const box = document.createElement("fieldset");
  box.className = "scale";
  const legend = document.createElement("legend");
  legend.textContent = question.text;
  box.append(legend);
  for (let value = question.min; value <= question.max; value++) {
    const label = document.createElement("label");
    const input = Object.assign(document.createElement("input"), { type: "radio", name: question.id, value });
    label.append(input, ` ${value}`);
    box.append(label);
  }
  return box;
}

function text(question) {
  const label = document.createElement("label");
  label.append(question.text, Object.assign(document.createElement("textarea"), { name: question.id, rows: 3, maxLength: 2000 }));
  return label;
}

async function load() {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) return show(WORDS.zh.missing + " / " + WORDS.en.missing);
  const survey = await response.json();
  words = WORDS[survey.language] || WORDS.zh;
  if (survey.answered) return show(words.done);
  document.getElementById("survey-store").textContent = survey.store_name;
  const car = `${survey.vehicle.make} ${survey.vehicle.model} (${survey.vehicle.year})`;
  document.getElementById("survey-about").textContent = survey.operation ? `${car} · ${survey.operation.name}` : car;
  const questions = document.getElementById("survey-questions");
  for (const question of survey.questions) questions.append(question.kind === "scale" ? scale(question) : text(question));
  document.getElementById("survey-submit").textContent = words.submit;
  form.hidden = false;
  document.body.dataset.ready = "1";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const error = document.getElementById("survey-error");
  const score = Number(data.get("score"));
  if (!score) {
    error.textContent = words.pick;
    error.hidden = false;
    return;
  }
  const comment = (data.get("comment") || "").toString().trim() || null;
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ score, comment }),
  });
  if (response.status === 409) return show(words.done);
  if (!response.ok) {
    error.textContent = (await response.json().catch(() => null))?.error?.message || `HTTP ${response.status}`;
    error.hidden = false;
    return;
  }
  show(words.thanks);
});

load();
