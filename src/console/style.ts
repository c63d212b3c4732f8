export const STYLE = "";
