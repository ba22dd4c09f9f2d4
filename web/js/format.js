// format.js - numbers, times and states for people.

export function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function ago(iso) {
  if (!iso) return 'never';
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function seconds(fromIso, toIso) {
  if (!fromIso || !toIso) return '–';
  const s = (new Date(toIso) - new Date(fromIso)) / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function credits(n) {
  return `${Number(n).toLocaleString('en')} credit${Math.abs(n) === 1 ? '' : 's'}`;
}

export function signed(n) {
  return (n > 0 ? '+' : n < 0 ? '−' : '') + Math.abs(n).toLocaleString('en');
}

export function short(id) {
  return String(id).slice(0, 8);
}

export function size(g) {
  if (g.outputs) return `${g.outputs.width}×${g.outputs.height}`;
  const i = g.input || {};
  return i.resolution || (i.size ? i.size.replace('x', '×') : '–');
}

export const FINAL = ['succeeded', 'failed', 'cancelled'];
export const isFinal = (g) => FINAL.includes(g.state);
