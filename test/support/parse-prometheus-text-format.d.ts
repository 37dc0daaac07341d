// Types for parse-prometheus-text-format (it ships none): the families of a Prometheus text
// exposition, each with its samples (value as written, labels by name).
declare module 'parse-prometheus-text-format' {
  interface Sample {
    value: string;
    labels?: Record<string, string>;
  }
  interface Family {
    name: string;
    help: string;
    type: string;
    metrics: Sample[];
  }
  export default function parsePrometheusTextFormat(text: string): Family[];
}
