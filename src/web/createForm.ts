// The create form, made from the API's own schema of a guest spec (GET /v1/schemas/guest-spec:
// the JSON Schema of the zod schema the daemon validates POST /v1/guests with): a field per
// property, checked in the page with that schema (Ajv), then by the daemon, each message shown
// next to its field. Nested properties (disks, network, boot) are JSON.

import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { call, get, type ApiError, type Json } from './api.js';
import { h, fill } from './dom.js';

interface Field {
  key: string;
  input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  message: HTMLElement;
  /** The value to send, or undefined to leave the property out (its default). */
  value(): unknown;
}

const types = (p: Json): string[] => (Array.isArray(p.type) ? p.type : p.type ? [p.type] : []);

function makeField(key: string, p: Json, required: boolean): Field {
  const message = h('span', { class: 'field-error', 'data-error-for': key });
  const t = types(p);
  let input: Field['input'];
  let value: () => unknown;
  if (Array.isArray(p.enum)) {
    const sel = h('select', { name: key }, h('option', { value: '' }, `(default: ${p.default})`));
    for (const v of p.enum) sel.append(h('option', { value: String(v) }, String(v)));
    input = sel;
    value = () => sel.value || undefined;
  } else if (t.length === 1 && t[0] === 'boolean') {
    const box = h('input', { type: 'checkbox', name: key });
    box.checked = p.default === true;
    input = box;
    value = () => (box.checked === (p.default === true) ? undefined : box.checked);
  } else if (t.length === 1 && (t[0] === 'integer' || t[0] === 'number')) {
    const num = h('input', { type: 'text', inputmode: 'numeric', name: key });
    num.placeholder = p.default !== undefined ? String(p.default) : '';
    input = num;
    value = () => (num.value.trim() === '' ? undefined : Number(num.value.trim()));
  } else if (t.length > 0 && t.every((x) => x === 'string' || x === 'number')) {
    const text = h('input', { type: 'text', name: key, required });
    if (key === 'memory') text.placeholder = '256M';
    input = text;
    value = () => {
      const v = text.value.trim();
      if (v === '') return undefined;
      return t.includes('number') && /^\d+$/.test(v) ? Number(v) : v;
    };
  } else {
    const area = h('textarea', { name: key, rows: 2 });
    area.placeholder = p.default !== undefined ? JSON.stringify(p.default) : 'JSON';
    input = area;
    value = () => {
      const v = area.value.trim();
      if (v === '') return undefined;
      try {
        return JSON.parse(v);
      } catch {
        throw new FieldError(key, 'is not JSON');
      }
    };
  }
  return { key, input, message, value };
}

class FieldError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

function fieldOf(e: ErrorObject): string {
  if (e.keyword === 'required') return String(e.params.missingProperty);
  return e.instancePath.split('/')[1] ?? '';
}

export function createView(): { el: HTMLElement } {
  const form = h('form', { class: 'create', 'data-testid': 'create-form', novalidate: true });
  const formError = h('p', { class: 'error', role: 'alert', 'data-testid': 'create-error' });
  const startNow = h('input', { type: 'checkbox', name: 'start-now' });
  startNow.checked = true;
  let fields: Field[] = [];
  let validate: ValidateFunction | null = null;

  const show = (key: string, msg: string): void => {
    const f = fields.find((x) => x.key === key);
    if (f) f.message.textContent = msg;
    else formError.textContent = key ? `${key}: ${msg}` : msg;
  };
  get('/v1/schemas/guest-spec')
    .then((schema) => {
      validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
      fields = Object.entries(schema.properties as Record<string, Json>)
        .filter(([, p]) => p.const === undefined)
        .map(([k, p]) => makeField(k, p, (schema.required ?? []).includes(k)));
      fill(
        form,
        h('h1', {}, 'Create a guest'),
        ...fields.map((f) =>
          h('label', { class: 'field' }, h('span', {}, f.key), f.input, f.message),
        ),
        h('label', { class: 'field' }, h('span', {}, 'start it now'), startNow),
        h('button', { type: 'submit', 'data-testid': 'create' }, 'Create'),
        formError,
      );
    })
    .catch((e: ApiError) => fill(form, h('p', { class: 'error' }, e.message)));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    fields.forEach((f) => (f.message.textContent = ''));
    formError.textContent = '';
    const spec: Record<string, unknown> = {};
    try {
      for (const f of fields) {
        const v = f.value();
        if (v !== undefined) spec[f.key] = v;
      }
    } catch (e) {
      return show((e as FieldError).key, e instanceof Error ? e.message : String(e));
    }
    if (validate && !validate(spec)) {
      for (const e of validate.errors ?? []) {
        const key = fieldOf(e);
        const f = fields.find((x) => x.key === key);
        if (f && f.message.textContent) continue; // the first message of a field
        show(key, `${e.instancePath.split('/').slice(2).join('.')} ${e.message ?? ''}`.trim());
      }
      return;
    }
    void (async () => {
      try {
        await call('POST', '/v1/guests', spec);
      } catch (e) {
        // The daemon's message names its field first: "memory: ...".
        const msg = (e as ApiError).message;
        const m = /^([A-Za-z]+)[.:[]/.exec(msg);
        return m && fields.some((f) => f.key === m[1]) ? show(m[1], msg) : show('', msg);
      }
      const name = String(spec.name);
      if (startNow.checked) {
        await call('PUT', `/v1/guests/${name}/state`, { action: 'start' }).catch((e: ApiError) =>
          window.alert(`created, but not started: ${e.message}`),
        );
      }
      location.hash = `#/guests/${name}`;
    })();
  });
  return { el: form };
}
