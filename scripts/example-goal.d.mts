export function writeExampleGoal(goalFile: string, text: string): 'written' | 'kept' | 'unchanged';
